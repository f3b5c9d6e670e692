using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Grid.Telemetry.Tests.Support;

/// <summary>One series of a query result: its labels and its samples (one for an instant vector).</summary>
public sealed record Series(IReadOnlyDictionary<string, string> Labels, IReadOnlyList<double> Values)
{
    public double Value => Values[^1];
}

/// <summary>
/// A real prometheus of our own: a free loopback port, storage in a temp folder, 1 s scrapes of the given /metrics
/// targets (job "grid"). Queried through its HTTP API; disposing kills it and deletes its folder.
/// </summary>
public sealed class PrometheusServer : IDisposable
{
    /// <summary>Prometheus processes not yet disposed: killed when the test host exits, whatever happened.</summary>
    private static readonly System.Collections.Concurrent.ConcurrentDictionary<Process, bool> Alive = new();
    private readonly Process _process;
    private readonly string _folder;
    private readonly HttpClient _http;
    private readonly StringBuilder _log = new();

    static PrometheusServer() => AppDomain.CurrentDomain.ProcessExit += (_, _) =>
    {
        foreach (var process in Alive.Keys)
        {
            GridProcess.TryKill(process);
        }
    };

    private PrometheusServer(Process process, string folder, Uri api)
    {
        Alive[process] = true;
        _process = process;
        _folder = folder;
        _http = new HttpClient { BaseAddress = api, Timeout = TimeSpan.FromSeconds(5) };
    }

    public bool HasExited => _process.HasExited;

    public string Log
    {
        get
        {
            lock (_log)
            {
                return _log.ToString();
            }
        }
    }

    public static PrometheusServer Start(params Uri[] targets)
    {
        string binary = Tools.Require("prometheus");
        string folder = Directory.CreateTempSubdirectory("grid-prometheus-").FullName;
        string config = Path.Combine(folder, "prometheus.yml");
        File.WriteAllText(config, $"""
            global:
              scrape_interval: 1s
              evaluation_interval: 1s
            scrape_configs:
              - job_name: grid
                metrics_path: {targets[0].AbsolutePath}
                static_configs:
                  - targets: [{string.Join(", ", targets.Select(t => $"'{t.Authority}'"))}]
            """);
        int port = Tools.FreePort();
        var start = new ProcessStartInfo(binary)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var argument in new[]
        {
            $"--config.file={config}", $"--storage.tsdb.path={Path.Combine(folder, "data")}",
            $"--web.listen-address=127.0.0.1:{port}", "--log.level=warn",
        })
        {
            start.ArgumentList.Add(argument);
        }

        var process = Process.Start(start)!;
        var started = new PrometheusServer(process, folder, new Uri($"http://127.0.0.1:{port}/"));
        process.OutputDataReceived += (_, e) => started.Append(e.Data);
        process.ErrorDataReceived += (_, e) => started.Append(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return started;
    }

    /// <summary>Polls an instant query until its single value satisfies the condition (30 s at most).</summary>
    public async Task<double> WaitForValueAsync(string query, Func<double?, bool> condition)
    {
        double? last = null;
        await WaitForAsync(query, series =>
        {
            last = series is [var one] ? one.Value : null;
            return condition(last);
        });
        return last!.Value;
    }

    /// <summary>Polls a query until its result satisfies the condition (30 s at most); returns that result.</summary>
    public async Task<IReadOnlyList<Series>> WaitForAsync(string query, Func<IReadOnlyList<Series>, bool> condition)
    {
        var clock = Stopwatch.StartNew();
        IReadOnlyList<Series>? last = null;
        while (clock.Elapsed < TimeSpan.FromSeconds(30) && !_process.HasExited)
        {
            last = await TryQueryAsync(query);
            if (last is not null && condition(last))
            {
                return last;
            }

            await Task.Delay(250, TestContext.Current.CancellationToken);
        }

        throw new TimeoutException(
            $"Query {query} never met the condition; last result: {Describe(last)}" +
            (_process.HasExited ? $"\nprometheus exited:\n{Log}" : ""));
    }

    /// <summary>An instant query; a range selector (<c>x[5m]</c>) gives each series' raw samples. Null while not up.</summary>
    public async Task<IReadOnlyList<Series>?> TryQueryAsync(string query)
    {
        try
        {
            var (result, error) = await QueryAsync(query);
            return error is null ? result : throw new InvalidOperationException($"Query {query} failed: {error}");
        }
        catch (HttpRequestException)
        {
            return null; // not listening yet
        }
    }

    /// <summary>An instant query: its series, or prometheus' error (a bad expression, say).</summary>
    public async Task<(IReadOnlyList<Series> Result, string? Error)> QueryAsync(string query)
    {
        using var response = await _http.GetAsync("api/v1/query?query=" + Uri.EscapeDataString(query),
            TestContext.Current.CancellationToken);
        string json = await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);
        if (!json.TrimStart().StartsWith('{'))
        {
            response.EnsureSuccessStatusCode();
        }

        using var document = JsonDocument.Parse(json);
        if (document.RootElement.GetProperty("status").GetString() != "success")
        {
            return ([], document.RootElement.GetProperty("error").GetString());
        }

        var data = document.RootElement.GetProperty("data");
        string type = data.GetProperty("resultType").GetString()!;
        if (type is "scalar" or "string")
        {
            return ([new Series(new Dictionary<string, string>(), [Sample(data.GetProperty("result"))])], null);
        }

        return (data.GetProperty("result").EnumerateArray().Select(series => new Series(
            series.GetProperty("metric").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetString()!),
            type == "matrix"
                ? series.GetProperty("values").EnumerateArray().Select(Sample).ToArray()
                : [Sample(series.GetProperty("value"))])).ToArray(), null);
    }

    private static double Sample(JsonElement pair) =>
        double.Parse(pair[1].GetString()!, CultureInfo.InvariantCulture);

    private static string Describe(IReadOnlyList<Series>? result) => result is null
        ? "none"
        : string.Join("; ", result.Select(s =>
            $"{{{string.Join(",", s.Labels.Select(l => $"{l.Key}=\"{l.Value}\""))}}} {string.Join(" ", s.Values)}"));

    private void Append(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_log)
        {
            _log.AppendLine(line);
        }
    }

    public void Dispose()
    {
        GridProcess.TryKill(_process);
        Alive.TryRemove(_process, out _);
        _process.Dispose();
        _http.Dispose();
        try
        {
            Directory.Delete(_folder, recursive: true);
        }
        catch (IOException)
        {
            // prometheus may still hold a lock file for a moment; the temp folder is cleaned by the OS.
        }
    }
}
