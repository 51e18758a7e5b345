import os

import pytest

from prefdissect.errors import UsageError
from prefdissect.study import Study


def test_second_writer_is_refused_with_the_first_ones_pid(tmp_path):
    study = Study(tmp_path / "s")
    with study.lock("fit"):
        with pytest.raises(UsageError, match=f"in use by PID {os.getpid()} \\(prefdissect fit\\)"):
            with Study(tmp_path / "s").lock("annotate"):
                pass
    with study.lock("annotate"):  # released when the first writer finished
        pass


def test_lock_on_a_file_path_is_a_clear_error(tmp_path):
    path = tmp_path / "a-file"
    path.write_text("x")
    with pytest.raises(UsageError, match="is a file, not a study folder"):
        with Study(path).lock("import"):
            pass
