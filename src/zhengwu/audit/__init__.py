"""The audit trail: a tamper-evident record of every sensitive action (sign-ins, role and token changes,
catalog reviews, grants...). Domains write to it through :func:`zhengwu.audit.services.audit_record`."""
