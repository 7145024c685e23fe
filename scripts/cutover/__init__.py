"""The blue-green cutover: a pure state machine over plain data (`model`, `machine`, `gates`), a driver that runs it
through injected adapters (`runner`, `ports`), and the adapters themselves (`local` for HAProxy, `aws` for the ALB).

Nothing in `model`, `machine`, `gates` or `runner` opens a socket or imports boto3.
"""
