"""Local simulator of Alibaba Cloud OutboundBot 2019-12-26 and an OpenAI-compatible LLM (SPEC §8).

Entry point: :func:`calltasks.simulator.server.start_simulator`, or ``manage.py run_simulator``.
"""
