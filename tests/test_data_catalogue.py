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
    (tmp_path/name).write_text(txt)
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
