"""Bad input raises iterd.IterdError naming the file or field, and the daemon keeps serving."""
import numpy as np
import pytest

import iterd
from helpers import assert_daemon_serves
from helpers import write_rows_csv
from iterd.v1 import pipeline_pb2


def test_missing_csv_file_is_not_found_naming_it(address):
    with pytest.raises(iterd.NotFound) as raised:
        iterd.CSVIter(data_csv="no_such_file.csv", data_shape=(2,), batch_size=3, server=address)
    assert "no_such_file.csv" in raised.value.message
    assert_daemon_serves(address)


def test_path_escaping_data_root_is_permission_denied(address, data_root):
    write_rows_csv(data_root.parent / "outside.csv", 3)  # Exists, but outside the root.
    with pytest.raises(iterd.PermissionDenied) as raised:
        iterd.CSVIter(data_csv="../outside.csv", data_shape=(2,), batch_size=3, server=address)
    assert "outside.csv" in raised.value.message
    assert_daemon_serves(address)


def test_absolute_path_outside_data_roots_is_permission_denied(address):
    with pytest.raises(iterd.PermissionDenied) as raised:
        iterd.CSVIter(data_csv="/etc/passwd", data_shape=(1,), batch_size=1, server=address)
    assert "/etc/passwd" in raised.value.message
    assert_daemon_serves(address)


def test_malformed_row_in_first_batch_fails_construction_naming_file(address, data_root):
    (data_root / "short_row.csv").write_text("1,2\n3\n5,6\n")
    with pytest.raises(iterd.IterdError) as raised:
        iterd.CSVIter(data_csv="short_row.csv", data_shape=(2,), batch_size=3, server=address)
    assert "short_row.csv" in raised.value.message
    assert_daemon_serves(address)


def test_malformed_row_later_fails_at_its_batch_after_good_batches(address, data_root):
    rows = ["%d,%d" % (r, r) for r in range(9)]
    rows[7] = "7,7,7"
    (data_root / "late_bad_row.csv").write_text("\n".join(rows) + "\n")
    with iterd.CSVIter(data_csv="late_bad_row.csv", data_shape=(2,), batch_size=3,
                       server=address) as it:
        assert next(it).index.tolist() == [0, 1, 2]
        assert next(it).index.tolist() == [3, 4, 5]
        with pytest.raises(iterd.IterdError) as raised:
            next(it)
    assert "late_bad_row.csv" in raised.value.message
    assert_daemon_serves(address)


def test_non_numeric_field_fails_naming_file(address, data_root):
    (data_root / "text_field.csv").write_text("1,2\n3,abc\n")
    with pytest.raises(iterd.IterdError) as raised:
        iterd.CSVIter(data_csv="text_field.csv", data_shape=(2,), batch_size=2, server=address)
    assert "text_field.csv" in raised.value.message
    assert_daemon_serves(address)


def test_wrong_data_shape_fails_naming_file_or_field(address, data_root):
    write_rows_csv(data_root / "three_columns.csv", 4, columns=3)
    with pytest.raises(iterd.IterdError) as raised:
        iterd.CSVIter(data_csv="three_columns.csv", data_shape=(4,), batch_size=2,
                      server=address)
    message = raised.value.message
    assert "three_columns.csv" in message or "data_shape" in message
    assert_daemon_serves(address)


def test_unknown_pipeline_name_is_not_found_naming_it(client, address):
    with pytest.raises(iterd.NotFound) as raised:
        client.open("no_such_pipeline")
    assert "no_such_pipeline" in raised.value.message
    assert_daemon_serves(address)


def test_batch_size_zero_is_rejected_by_daemon_naming_field(client, address, data_root):
    write_rows_csv(data_root / "for_zero_batch.csv", 3)
    config = pipeline_pb2.PipelineConfig()
    config.csv.data_csv = "for_zero_batch.csv"
    config.csv.data_shape.append(2)
    config.csv.batch_size = 0
    with pytest.raises(iterd.InvalidArgument) as raised:
        client.open_config(config)
    assert "batch_size" in raised.value.message
    assert_daemon_serves(address)


UNREACHABLE = "127.0.0.1:1"  # Nothing listens there: any network traffic would be UNAVAILABLE.


@pytest.mark.parametrize("make", [
    lambda: iterd.CSVIter(data_csv="x.csv", data_shape=(2,), batch_size=0, server=UNREACHABLE),
    lambda: iterd.CSVIter(data_shape=(2,), batch_size=3, server=UNREACHABLE),
    lambda: iterd.CSVIter(data_csv="x.csv", batch_size=3, server=UNREACHABLE),
    lambda: iterd.CSVIter(data_csv="x.csv", data_shape=(2,), server=UNREACHABLE),
    lambda: iterd.CSVIter(data_csv="x.csv", data_shape=(0,), batch_size=3, server=UNREACHABLE),
    lambda: iterd.CSVIter(data_csv="x.csv", data_shape=(2,), batch_size=3, dtype="float64",
                          server=UNREACHABLE),
    lambda: iterd.NDArrayIter(np.zeros((4, 2)), batch_size=0, server=UNREACHABLE),
    lambda: iterd.NDArrayIter(np.zeros((4, 2)), batch_size=2, last_batch_handle="keep",
                              server=UNREACHABLE),
    lambda: iterd.NDArrayIter([np.zeros((4, 2)), np.zeros((5, 2))], batch_size=2,
                              server=UNREACHABLE),
    lambda: iterd.NDArrayIter(np.zeros((4, 2)), np.zeros(3), batch_size=2, server=UNREACHABLE),
    lambda: iterd.NDArrayIter(np.zeros((0, 2)), batch_size=2, server=UNREACHABLE),
    lambda: iterd.NDArrayIter(np.zeros((4, 2)), batch_size=2, in_flight=0, server=UNREACHABLE),
])
def test_bad_constructor_arguments_raise_before_network_traffic(make):
    with pytest.raises(iterd.InvalidArgument) as raised:
        make()
    assert isinstance(raised.value, ValueError)


def test_missing_server_address_is_a_clear_error(monkeypatch):
    monkeypatch.delenv("ITERD_ADDRESS", raising=False)
    with pytest.raises(iterd.InvalidArgument) as raised:
        iterd.NDArrayIter(np.zeros((4, 2)), batch_size=2)
    assert "ITERD_ADDRESS" in raised.value.message


def test_unreachable_server_is_unavailable():
    with pytest.raises(iterd.Unavailable):
        iterd.NDArrayIter(np.zeros((4, 2)), batch_size=2, server=UNREACHABLE)
