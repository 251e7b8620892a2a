"""The headless commands (`tapedeck check|code|train|runs|compare|export`) and their user-facing errors."""
