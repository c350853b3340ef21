"""Optional dependencies (`require`, `import_tensorflow`, `MissingExtraError`): defined in `fkeras.runtime.extras`,
below every floor that needs one."""

from fkeras.runtime.extras import (  # noqa: F401
    EXTRAS,
    MissingExtraError,
    import_tensorflow,
    missing_extra_message,
    require,
)
