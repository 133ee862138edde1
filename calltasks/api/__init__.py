"""HTTP interface of the calltasks app: the seed endpoints (seed envelope) and the ``/api/v1/`` resources."""
