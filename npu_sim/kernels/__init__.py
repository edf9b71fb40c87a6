"""Reference instruction schedules (the streams a framework lowering is expected to produce)."""
