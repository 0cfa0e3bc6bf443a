"""A catalogue of malformed market data: each case must raise DataError naming what is wrong and where."""
import gzip, shutil
from pathlib import Path
import numpy as np, pandas as pd, pytest
from hnn_trading.data import load_ohlcv, DataError, load_sample, gap_report, universe_filter, align_exog, panel_from_frame

H = "Date,Open,High,Low,Close,Volume\n"
GOOD = "2024-01-02,10,11,9,10.5,100\n"

# (file name, content, [substrings the error must contain])
CASES = {
    "missing_column": ("a.csv", "Date,Open,High,Low,Close\n2024-01-02,10,11,9,10.5\n", ["a.csv", "missing column(s) ['volume']"]),
    "missing_two_columns": ("a.csv", "Date,Open,Close,Volume\n2024-01-02,10,10.5,1\n", ["missing column(s) ['high', 'low']"]),
    "no_time_column": ("a.csv", "Open,High,Low,Close,Volume\n10,11,9,10.5,100\n", ["no time column"]),
    "inf_price": ("a.csv", H + GOOD + "2024-01-03,10,inf,9,10.5,100\n", ["row 2", "column 'high'", "must be finite", "inf"]),
    "overflowing_volume": ("a.csv", H + GOOD + "2024-01-03,10,11,9,10.5,1e999\n", ["row 2", "column 'volume'", "must be finite"]),
    "empty_symbol": ("a.csv", "timestamp,symbol,open,high,low,close,volume\n2024-01-02,A,10,11,9,10.5,1\n2024-01-02,,10,11,9,10.5,1\n", ["row 2", "column 'symbol'", "empty symbol"]),
    "unnamed_first_column_not_dates": ("a.csv", ",Open,High,Low,Close,Volume\n0,10,11,9,10.5,100\n1,10,11,9,10.5,100\n", ["no time column", "unnamed first column of dates", "'unnamed:_0'"]),
    "unnamed_first_column_some_not_dates": ("a.csv", ",Open,High,Low,Close,Volume\n2024-01-02,10,11,9,10.5,100\nfoo,10,11,9,10.5,100\n", ["no time column"]),
    "empty_file": ("a.csv", "", ["a.csv", "the file is empty"]),
    "header_only": ("a.csv", H, ["a.csv", "no rows"]),
    "unparseable_number": ("a.csv", H + GOOD + "2024-01-03,10,1O.8,9,10.5,100\n", ["row 2 (line 3)", "timestamp 2024-01-03", "column 'high'", "cannot parse number '1O.8'"]),
    "unparseable_volume": ("a.csv", H + GOOD + "2024-01-03,10,11,9,10.5,lots\n", ["row 2", "column 'volume'", "'lots'"]),
    "unparseable_timestamp": ("a.csv", H + GOOD + "2024-13-45,10,11,9,10.5,100\n", ["row 2 (line 3)", "column 'date'", "cannot parse timestamp '2024-13-45'"]),
    "missing_timestamp": ("a.csv", H + GOOD + ",10,11,9,10.5,100\n", ["row 2", "missing timestamp"]),
    "mixed_timezones": ("a.csv", "timestamp,open,high,low,close,volume\n2024-01-02T10:00:00+00:00,10,11,9,10.5,1\n2024-01-02T11:00:00,10,11,9,10.5,1\n",
                        ["row 2", "mixed time zones", "naive"]),
    "unsorted": ("a.csv", H + "2024-01-03,10,11,9,10.5,100\n" + GOOD, ["row 2", "timestamp 2024-01-02", "not sorted"]),
    "duplicate_timestamp": ("a.csv", H + GOOD + GOOD, ["row 2", "duplicate timestamp (also at row 1)"]),
    "zero_price": ("a.csv", H + GOOD + "2024-01-03,10,11,9,0,100\n", ["row 2", "column 'close'", "price must be positive, got 0.0"]),
    "negative_price": ("a.csv", H + "2024-01-02,-10,11,-11,10.5,100\n", ["row 1", "column 'open'", "-10.0"]),
    "high_below_max": ("a.csv", H + "2024-01-02,10,10.4,9,10.5,100\n", ["row 1", "column 'high'", "high 10.4 is below max(open, close) = 10.5"]),
    "low_above_min": ("a.csv", H + "2024-01-02,10,11,10.2,10.5,100\n", ["row 1", "column 'low'", "low 10.2 is above min(open, close) = 10.0"]),
    "negative_volume": ("a.csv", H + GOOD + "2024-01-03,10,11,9,10.5,-5\n", ["row 2", "column 'volume'", "must not be negative, got -5.0"]),
    "all_nan_column": ("a.csv", H + "2024-01-02,10,11,9,10.5,\n2024-01-03,10,11,9,10.5,\n", ["column 'volume'", "all NaN"]),
    "nan_in_price_row": ("a.csv", H + GOOD + "2024-01-03,10,,9,10.5,100\n", ["row 2", "column 'high'", "missing price (NaN)", "nan='drop'", "--nan drop"]),
    "nan_word_in_price_row": ("a.csv", H + GOOD + "2024-01-03,10,11,NaN,10.5,100\n", ["row 2", "column 'low'", "missing price"]),
    "nan_volume": ("a.csv", H + GOOD + "2024-01-03,10,11,9,10.5,\n", ["row 2", "column 'volume'", "missing volume"]),
    "duplicate_columns": ("a.csv", "Date,Open,High,Low,Close,close,Volume\n2024-01-02,10,11,9,10.5,10.5,1\n", ["columns ['close'] appear more than once"]),
    "unsupported_type": ("a.xlsx", "x", ["unsupported file type"]),
    "long_panel_bad_symbol": ("p.csv", "timestamp,symbol,open,high,low,close,volume\n2024-01-02,AAA,10,11,9,10.5,1\n2024-01-02,BBB,10,11,9,10.5,1\n2024-01-03,BBB,10,9,9,10.5,1\n",
                              ["[symbol BBB]", "row 3", "column 'high'"]),
    "long_panel_duplicate": ("p.csv", "timestamp,symbol,open,high,low,close,volume\n2024-01-02,AAA,10,11,9,10.5,1\n2024-01-02,AAA,10,11,9,10.5,1\n",
                             ["[symbol AAA]", "row 2", "duplicate timestamp"]),
    "decimal_comma_mixed_with_points": ("a.csv", H + GOOD + '2024-01-03,10,11,9,"10,5",100\n', ["row 2", "column 'close'", "cannot tell a decimal comma", "'10,5'",
                                                                                           "write numbers with '.' decimals"]),
    "day_month_ambiguous": ("a.csv", H + "01/02/2024,10,11,9,10.5,100\n02/02/2024,10,11,9,10.5,100\n", ["column 'date'", "day/month order is ambiguous", "'01/02/2024'",
                                                                                                     "data.date_format", "--date-format"]),
    # issue 27: two time columns that disagree; a d/m/y block among ISO rows; both orders in one file; epoch numbers
    "two_time_columns_disagree": ("a.csv", "timestamp,date,open,high,low,close,volume\n2024-01-02,2024-01-02,10,11,9,10.5,1\n2024-01-03,2023-01-03,10,11,9,10.5,1\n",
                                  ["a.csv, row 2 (line 3)", "'timestamp' ('2024-01-03')", "'date' ('2023-01-03')", "disagree"]),
    "day_month_block_among_iso_dates": ("a.csv", H + "2009-12-30,10,11,9,10.5,1\n2009-12-31,10,11,9,10.5,1\n05/01/2010,10,11,9,10.5,1\n06/01/2010,10,11,9,10.5,1\n",
                                        ["a.csv, row 3 (line 4)", "column 'date'", "day/month order is ambiguous", "rows 3 to 4", "'05/01/2010'", "ISO"]),
    "day_first_and_month_first_rows": ("a.csv", H + "12/30/2009,10,11,9,10.5,1\n31/12/2009,10,11,9,10.5,1\n",
                                       ["row 2 (line 3)", "'31/12/2009' puts the day first", "row 1 ('12/30/2009') puts the month first"]),
    "epoch_seconds_without_unit": ("a.csv", "timestamp,open,high,low,close,volume\n1704153600,10,11,9,10.5,1\n1704240000,10,11,9,10.5,1\n",
                                   ["a.csv, row 1 (line 2)", "column 'timestamp'", "'1704153600' looks like an epoch timestamp", "data.time_unit: s", "time_unit='s'"]),
    "epoch_milliseconds_without_unit": ("a.csv", "timestamp,open,high,low,close,volume\n1704153600000,10,11,9,10.5,1\n", ["data.time_unit: ms"]),
    "gzip_bytes_named_csv": ("a.csv", None, ["a.csv: the file is gzip-compressed", "name it .csv.gz"]),
}

def test_decimal_commas_are_read_as_decimals_or_thousands_from_the_content(tmp_path):
    (tmp_path/"eu.csv").write_text('Date,Open,High,Low,Close,Volume\n2024-01-02,"100,13","101,5","99,25","100,75","1.234"\n'
                                   '2024-01-03,"1.100,10","1.101,5","1.099,25","1.100,75",7\n')          # European: ',' decimals, '.' thousands
    p = load_ohlcv(tmp_path/"eu.csv")
    assert p["open"].tolist() == [100.13, 1100.10] and p["close"].tolist() == [100.75, 1100.75]
    (tmp_path/"us.csv").write_text('Date,Open,High,Low,Close,Volume\n2024-01-02,"1,100.5","1,101","1,099","1,100","12,345"\n')
    assert load_ohlcv(tmp_path/"us.csv")[["open", "volume"]].values.tolist() == [[1100.5, 12345.0]]

def test_day_first_dates_are_read_day_first_and_a_format_settles_ambiguity(tmp_path):
    (tmp_path/"d.csv").write_text(H + "13/02/2024,10,11,9,10.5,100\n14/02/2024,10,11,9,10.5,100\n")
    assert str(load_ohlcv(tmp_path/"d.csv").index.get_level_values(0)[0].date()) == "2024-02-13"
    (tmp_path/"a.csv").write_text(H + "01/02/2024,10,11,9,10.5,100\n02/02/2024,10,11,9,10.5,100\n")
    assert str(load_ohlcv(tmp_path/"a.csv", date_format="%d/%m/%Y").index.get_level_values(0)[0].date()) == "2024-02-01"
    assert str(load_ohlcv(tmp_path/"a.csv", date_format="%m/%d/%Y").index.get_level_values(0)[0].date()) == "2024-01-02"
    with pytest.raises(DataError, match=r"row 1.*'01/02/2024' does not match the date format '%Y-%m-%d'"): load_ohlcv(tmp_path/"a.csv", date_format="%Y-%m-%d")

def _walk(n=300, seed=0, start="2024-01-01", freq="D"):
    r = np.random.default_rng(seed).normal(0, 0.01, n); c = 100 * np.exp(np.cumsum(r))
    return pd.DataFrame({"Date": pd.date_range(start, periods=n, freq=freq).strftime("%Y-%m-%d %H:%M"), "Open": c, "High": c * 1.01, "Low": c * 0.99, "Close": c, "Volume": 100})

def test_a_bad_tick_is_listed_by_validate_and_refused_by_runs(tmp_path):
    from hnn_trading.config import DataConfig
    from hnn_trading.data import load_data
    d = _walk(); d.loc[150, ["Open", "High", "Low", "Close"]] *= 1000                # a 1000x bad tick
    d.to_csv(tmp_path/"t.csv", index=False)
    rep = load_ohlcv(tmp_path/"t.csv").attrs["load_report"][0]
    assert [t["row"] for t in rep["suspect_ticks"]] == [151, 152] and abs(rep["suspect_ticks"][0]["jump"] - 1000) < 100   # up at row 151, back down at 152
    with pytest.raises(DataError) as e: load_data(DataConfig(source=str(tmp_path/"t.csv")))
    for w in ["2 suspected bad tick(s)", "t.csv [t] row 151", "data.accept_bad_ticks: true"]: assert w in str(e.value), (w, str(e.value))
    assert len(load_data(DataConfig(source=str(tmp_path/"t.csv"), accept_bad_ticks=True))) == 300
    _walk(seed=1).to_csv(tmp_path/"ok.csv", index=False)
    assert load_ohlcv(tmp_path/"ok.csv").attrs["load_report"][0]["suspect_ticks"] == []        # a plain random walk has none

def test_a_folder_mixing_bar_sizes_is_refused_unless_asked_for(tmp_path):
    _walk(50).to_csv(tmp_path/"daily.csv", index=False); _walk(50, freq="h").to_csv(tmp_path/"hourly.csv", index=False)
    with pytest.raises(DataError) as e: load_ohlcv(tmp_path)
    for w in ["different bar sizes", "daily.csv [daily]: 1 days", "hourly.csv [hourly]: 0 days 01:00:00", "mixed_bar_sizes"]: assert w in str(e.value), (w, str(e.value))
    assert len(load_ohlcv(tmp_path, mixed_bar_sizes=True)) == 100

@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_csv(tmp_path, case):
    name, txt, parts = CASES[case]
    (tmp_path/name).write_bytes(gzip.compress((H + GOOD).encode())) if txt is None else (tmp_path/name).write_text(txt)
    with pytest.raises(DataError) as e: load_ohlcv(tmp_path/name)
    for p in parts: assert p in str(e.value), f"{case}: {p!r} not in {str(e.value)!r}"
    assert isinstance(e.value, ValueError)

def test_bad_gzip_csv_names_file_and_row(tmp_path):
    p = tmp_path/"b.csv.gz"
    with gzip.open(p, "wt") as f: f.write(H + GOOD + "2024-01-03,10,11,9,abc,100\n")
    with pytest.raises(DataError, match=r"b\.csv\.gz, row 2 \(line 3\).*column 'close'.*'abc'"): load_ohlcv(p)

def test_bad_parquet(tmp_path):
    df = pd.DataFrame(dict(timestamp=pd.date_range("2024-01-01", periods=3, tz="UTC"), open=[1.0, 2, 3], high=[1.0, 2, 3],
                           low=[1.0, 2, 3], close=[1.0, 2.5, 3], volume=[1.0, 1, 1]))
    df.to_parquet(tmp_path/"x.parquet")
    with pytest.raises(DataError, match=r"x\.parquet, row 2, timestamp 2024-01-02.*column 'high': high 2.0 is below"): load_ohlcv(tmp_path/"x.parquet")

def test_missing_path_and_empty_folder(tmp_path):
    with pytest.raises(DataError, match="no such file or folder"): load_ohlcv(tmp_path/"nope.csv")
    (tmp_path/"empty").mkdir()
    with pytest.raises(DataError, match="folder has no data files"): load_ohlcv(tmp_path/"empty")

def test_same_symbol_in_two_files(tmp_path):
    (tmp_path/"AAA.csv").write_text(H + GOOD)
    (tmp_path/"both.csv").write_text("timestamp,symbol,open,high,low,close,volume\n2024-01-02,AAA,10,11,9,10.5,1\n")
    with pytest.raises(DataError, match="symbol 'AAA' at 2024-01-02.*more than one file"): load_ohlcv(tmp_path)

def test_nan_drop_is_explicit_and_counted(tmp_path):
    (tmp_path/"a.csv").write_text(H + GOOD + "2024-01-03,10,,9,10.5,100\n2024-01-04,10,11,9,10.5,100\n")
    p = load_ohlcv(tmp_path/"a.csv", nan="drop")
    assert len(p) == 2 and p.attrs["load_report"][0]["dropped_nan_rows"] == 1
    with pytest.raises(ValueError, match="nan='keep'"): load_ohlcv(tmp_path/"a.csv", nan="keep")

@pytest.mark.parametrize("cols", [["Date", "Open", "High", "Low", "Close", "Volume"], ["date", "open", "high", "low", "close", "volume"],
                                  ["DATE", "OPEN", "HIGH", "LOW", "CLOSE", "VOLUME"], ["Timestamp", " Open", "HIGH ", "low", "Close", "vOlUmE"]])
def test_column_names_any_case(tmp_path, cols):
    (tmp_path/"a.csv").write_text(",".join(cols) + "\n" + GOOD)
    assert list(load_ohlcv(tmp_path/"a.csv").columns) == ["open", "high", "low", "close", "volume"]

def test_timezones_become_utc(tmp_path):
    (tmp_path/"a.csv").write_text("timestamp,open,high,low,close,volume\n2024-06-03T09:30:00-04:00,10,11,9,10.5,1\n2024-06-03T10:30:00-04:00,10,11,9,10.5,1\n")
    t = load_ohlcv(tmp_path/"a.csv").index.get_level_values(0)
    assert str(t.tz) == "UTC" and t[0] == pd.Timestamp("2024-06-03 13:30", tz="UTC")

def test_bundled_data_is_valid():
    p = load_sample("us_indices")
    assert len(p) == 10062 and not p.isna().any().any()
    g = gap_report(p)
    assert (g["missing_vs_panel"] == 0).all()

def test_universe_filter_keeps_complete_symbols(tmp_path):
    (tmp_path/"AAA.csv").write_text(H + GOOD + "2024-01-03,10,11,9,10.5,100\n")
    (tmp_path/"BBB.csv").write_text(H + GOOD)
    u = universe_filter(load_ohlcv(tmp_path))
    assert u.index.get_level_values("symbol").unique().tolist() == ["AAA"]
    assert universe_filter(load_ohlcv(tmp_path), min_coverage=0.5).index.get_level_values("symbol").nunique() == 2

def test_vix_alignment_never_uses_a_later_value():
    sp = load_sample("sp500"); vix = load_sample("vix")
    v = align_exog(sp, vix["close"], "vix")
    vt = vix.index.get_level_values(0)
    t = sp.index.get_level_values(0)
    src_pos = np.searchsorted(vt.asi8, t.asi8, side="right") - 1
    ok = src_pos >= 0
    assert (vt[src_pos[ok]] <= t[ok]).all()
    assert v[~ok].isna().all() and v[ok].notna().all()


def test_files_as_people_have_them_load_with_no_options(tmp_path):
    "`df.to_csv()` of a DatetimeIndex (empty time header) and a Yahoo download (Date, ..., Adj Close, Volume) load as they are."
    sp = load_sample("sp500").droplevel("symbol").iloc[:30]
    df = sp.rename(columns=str.title); df.index = df.index.tz_convert(None); df.index.name = None
    df.to_csv(tmp_path/"pandas.csv")
    assert (tmp_path/"pandas.csv").read_text().startswith(",Open,High,Low,Close,Volume\n")
    a = load_ohlcv(tmp_path/"pandas.csv")
    np.testing.assert_allclose(a.values, sp.values, rtol=1e-12)
    assert (a.index.get_level_values("timestamp") == sp.index).all()
    y = df.copy(); y.insert(4, "Adj Close", y["Close"] * 0.9); y.index.name = "Date"; y.to_csv(tmp_path/"yahoo.csv")
    b = load_ohlcv(tmp_path/"yahoo.csv")
    np.testing.assert_allclose(b["close"].values, sp["close"].values, rtol=1e-12)      # the unadjusted Close, and it says so
    assert "'Adj Close' is ignored" in b.attrs["load_report"][0]["note"]
    df.to_parquet(tmp_path/"frame.parquet")                                             # a DatetimeIndex in Parquet too
    np.testing.assert_allclose(load_ohlcv(tmp_path/"frame.parquet").values, sp.values, rtol=1e-12)


# issue 27, data that is right or refused
def test_a_day_month_block_among_iso_dates_is_read_in_its_own_order(tmp_path):
    "Row 4 (13/01/2010) says the d/m/y block puts the day first: 05/01/2010 is 5 January, not 1 May (today's reading)."
    (tmp_path/"m.csv").write_text(H + "2009-12-30,10,11,9,10.5,1\n2009-12-31,10,11,9,10.5,1\n05/01/2010,10,11,9,10.5,1\n13/01/2010,10,11,9,10.5,1\n")
    t = load_ohlcv(tmp_path/"m.csv").index.get_level_values(0)
    assert [str(x.date()) for x in t] == ["2009-12-30", "2009-12-31", "2010-01-05", "2010-01-13"]

def test_time_columns_that_agree_load(tmp_path):
    "A date column beside zone-aware timestamps agrees within a day (time zones); a column of times of day is not compared."
    (tmp_path/"a.csv").write_text("timestamp,date,open,high,low,close,volume\n2024-01-02T15:00:00-05:00,2024-01-02,10,11,9,10.5,1\n"
                                  "2024-01-03T22:00:00-05:00,2024-01-03,10,11,9,10.5,1\n")
    assert len(load_ohlcv(tmp_path/"a.csv")) == 2
    (tmp_path/"b.csv").write_text("timestamp,time,open,high,low,close,volume\n2024-01-02 10:00,10:00,10,11,9,10.5,1\n")
    assert len(load_ohlcv(tmp_path/"b.csv")) == 1
    df = pd.DataFrame({"timestamp": ["2024-01-02", "2024-01-03"], "date": ["2024-01-02", "2024-02-03"], "open": 10.0, "high": 11.0,
                       "low": 9.0, "close": 10.5, "volume": 1.0})
    with pytest.raises(DataError, match=r"row 2.*'timestamp' \('2024-01-03'\) and 'date' \('2024-02-03'\) disagree"): panel_from_frame(df)

def test_epoch_timestamps_are_read_with_their_unit_and_a_wrong_unit_is_refused(tmp_path):
    (tmp_path/"e.csv").write_text("timestamp,open,high,low,close,volume\n1704153600,10,11,9,10.5,1\n1704240000,10,11,9,10.5,1\n")
    t = load_ohlcv(tmp_path/"e.csv", time_unit="s").index.get_level_values(0)
    assert list(t) == [pd.Timestamp("2024-01-02", tz="UTC"), pd.Timestamp("2024-01-03", tz="UTC")]
    with pytest.raises(DataError, match=r"e\.csv, row 1 \(line 2\), column 'timestamp': '1704153600' read in time_unit 'ms' is 1970-01-20"):
        load_ohlcv(tmp_path/"e.csv", time_unit="ms")
    pd.DataFrame({"timestamp": [1704153600000, 1704240000000], "open": 10.0, "high": 11.0, "low": 9.0, "close": 10.5, "volume": 1.0}).to_parquet(tmp_path/"e.parquet")
    with pytest.raises(DataError, match="time_unit='ms'"): load_ohlcv(tmp_path/"e.parquet")
    assert load_ohlcv(tmp_path/"e.parquet", time_unit="ms").index.get_level_values(0)[1] == pd.Timestamp("2024-01-03", tz="UTC")
    (tmp_path/"d.csv").write_text(H + "20240102,10,11,9,10.5,1\n")                     # yyyymmdd (8 digits) is a date, not an epoch
    assert load_ohlcv(tmp_path/"d.csv").index.get_level_values(0)[0] == pd.Timestamp("2024-01-02", tz="UTC")

def _entry(folder, kind):
    "Make a hostile entry named B.csv in `folder`."
    import os
    p = folder/"B.csv"
    if kind == "dangling_link": os.symlink(folder/"gone.csv", p)
    elif kind == "link_loop": os.symlink(folder/"C.csv", p); os.symlink(p, folder/"C.csv")
    elif kind == "folder": p.mkdir()
    elif kind == "fifo": os.mkfifo(p)
    elif kind == "link_to_dev_zero": os.symlink("/dev/zero", p)
    return p

@pytest.mark.parametrize("kind,words", [("dangling_link", "a symbolic link to"), ("link_loop", "a symbolic link loop"), ("folder", "a folder"),
                                        ("fifo", "a named pipe (FIFO)"), ("link_to_dev_zero", "a character device")])
def test_an_entry_of_a_data_folder_that_is_no_file_is_refused_not_skipped(tmp_path, kind, words):
    "Today such an entry is skipped and symbol B disappears; a FIFO or a device is never opened (this would block or never end)."
    (tmp_path/"A.csv").write_text(H + GOOD)
    p = _entry(tmp_path, kind)
    with pytest.raises(DataError) as e: load_ohlcv(tmp_path)
    assert str(e.value).startswith(f"{p}: {words}") and "\n" not in str(e.value), str(e.value)
    if kind != "folder":
        with pytest.raises(DataError, match=words.replace("(", r"\(").replace(")", r"\)")): load_ohlcv(p)   # the path given directly

def test_a_device_given_directly_is_refused():
    with pytest.raises(DataError, match=r"^/dev/zero: a character device, not a data file"): load_ohlcv("/dev/zero")

def test_a_gzip_bomb_is_refused_while_decompressing_and_the_caps_are_named(tmp_path, monkeypatch):
    "80 MB of text in a 0.2 MB gzip file (ratio ~400): refused before it is read whole; the limits are environment variables."
    with gzip.open(tmp_path/"bomb.csv.gz", "wb", compresslevel=9) as g:
        g.write(H.encode()); row = GOOD.encode() * 10000
        for _ in range(300): g.write(row)
    with pytest.raises(DataError) as e: load_ohlcv(tmp_path/"bomb.csv.gz")
    for w in ["bomb.csv.gz: decompresses to more than", "compressed bytes (a decompression bomb?)", "HNN_MAX_DECOMPRESSION_RATIO"]: assert w in str(e.value), str(e.value)
    (tmp_path/"a.csv").write_text(H + GOOD + "2024-01-03,10,11,9,10.5,100\n")
    monkeypatch.setenv("HNN_MAX_DATA_BYTES", "50")
    with pytest.raises(DataError, match=r"a\.csv: 88 bytes, over the limit of 50 bytes; raise it with HNN_MAX_DATA_BYTES"): load_ohlcv(tmp_path/"a.csv")
    monkeypatch.setenv("HNN_MAX_DATA_BYTES", "lots")
    with pytest.raises(DataError, match="HNN_MAX_DATA_BYTES='lots': use a positive whole number"): load_ohlcv(tmp_path/"a.csv")

def test_utf16_text_is_named(tmp_path):
    (tmp_path/"u.csv").write_text(H + GOOD, encoding="utf-16")
    with pytest.raises(DataError, match=r"u\.csv: the file is UTF-16 text.*save it as UTF-8"): load_ohlcv(tmp_path/"u.csv")
