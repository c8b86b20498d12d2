from django.apps import AppConfig


class JsRuntimeConfig(AppConfig):
    name = "jsruntime"
    verbose_name = "JavaScript runtime"
