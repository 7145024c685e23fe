"""The FastAPI baseline: the same tools and protocol as the native server, written the way a FastAPI team would.

`services.fastapi_baseline.app:app` is the ASGI application; `gunicorn_conf.py` runs it the way the seeds deploy it.
"""
