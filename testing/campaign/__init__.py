"""Fault-injection (SWIFI) and system-call fuzzing campaigns against Septum.

:mod:`.swifi` injects faults into the servers of the default system and
classifies the outcome; :mod:`.fuzz` runs random system calls on the kernel
and compares each result with the reference model (kernel/model.py);
:mod:`.report` runs either campaign over many processes and prints or saves
the figures.  The CLI is ``septum campaign`` (hypervisor/campaign_cli.py);
docs/campaigns.md says how to run them at scale.
"""
