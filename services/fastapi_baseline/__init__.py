"""The FastAPI baseline: the same tools and protocol as the native server, written the way a skilled
FastAPI team ships it.

`services.fastapi_baseline.app:app` is the ASGI application; `gunicorn_conf.py` runs it under gunicorn with uvicorn
workers, as deployed.
"""
