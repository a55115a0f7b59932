"""The job queue: delivery of alert and report messages, and the periodic jobs.

The database is the truth; the queue only carries delivery ids and wake-ups, so a lost or
repeated queue message never loses or repeats a message (jobs/delivery.py claims each one).
"""
