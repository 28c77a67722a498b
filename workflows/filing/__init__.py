"""What other districts' notices ask of an event before its day (issue 30), each a campaign
rule a notice can switch on (workflows/campaign/rules.py): the plan (方案) filed with the district
office and approved before the event may be invited (plans.py), the public announcement of a
publicly invited event and the 公示 of its citizen representatives (publish.py), and the timers
that press the unit, then the district office, when one is missing at its deadline (timers.py)."""
