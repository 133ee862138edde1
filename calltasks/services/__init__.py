"""Writes of the calltasks app: one function per state change (see calltasks/states.py).

Views, admin actions, django-q2 tasks and management commands call these and nothing else.
"""
