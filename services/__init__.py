"""The servers and their shared layers. Importing the package first decides which build of the native server's hot
modules this process runs, compiled or pure (services/compiled.py), before any of them is imported."""

from services import compiled as _compiled

_compiled.activate()
