"""What the running app tells its operators: Prometheus metrics (``metrics``, ``open_holds``,
served at ``/metrics`` by ``workbench.web.metrics_route``) and structured log lines tied together
by a request id (``logs``, ``request_ids``)."""
