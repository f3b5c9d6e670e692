using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Grid.Telemetry.Tests.Support;

namespace Grid.Telemetry.Tests;

public class PrometheusScrapeTests
{
    [Fact]
    public async Task A_real_prometheus_sees_the_last_steps_beta_and_rollout_counts_that_grow()
    {
        string prometheusBinary = Tools.Require("prometheus");
        await using var server = await GridMetricsServer.StartAsync(
            new GridTelemetryOptions { Port = 0, IncludeOrleans = false }, TestContext.Current.CancellationToken);
        var metrics = server.Metrics!;
        const string run = "scraped-run";
        metrics.RecordStep(run, Steps.Report(step: 0, beta: 0.04));
        metrics.RecordStep(run, Steps.Report(step: 1, beta: 0.0175));
        metrics.RolloutFinished(run, RolloutOutcome.Ok, tokens: 10);

        using var prometheus = PrometheusProcess.Start(prometheusBinary, server.Endpoint);
        try
        {
            double beta = await prometheus.WaitForValueAsync($"grid_kl_beta{{run=\"{run}\"}}", v => v is not null);
            Assert.Equal(0.0175, beta);

            string rollouts = $"sum(grid_rollouts_total{{run=\"{run}\"}})";
            double before = await prometheus.WaitForValueAsync(rollouts, v => v is not null);
            metrics.RolloutFinished(run, RolloutOutcome.Ok, tokens: 11);
            metrics.RolloutFinished(run, RolloutOutcome.Retried, tokens: 12);
            double after = await prometheus.WaitForValueAsync(rollouts, v => v > before);

            Assert.Equal(before + 2, after);
        }
        catch (TimeoutException) when (prometheus.HasExited)
        {
            Assert.Fail($"prometheus exited early:\n{prometheus.Log}");
        }
    }

    /// <summary>A prometheus of our own: free port, temp storage, 1 s scrapes of one target.</summary>
    private sealed class PrometheusProcess : IDisposable
    {
        private readonly Process _process;
        private readonly string _folder;
        private readonly HttpClient _http;
        private readonly System.Text.StringBuilder _log = new();

        private PrometheusProcess(Process process, string folder, Uri api)
        {
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

        public static PrometheusProcess Start(string binary, Uri target)
        {
            string folder = Directory.CreateTempSubdirectory("grid-prometheus-").FullName;
            string config = Path.Combine(folder, "prometheus.yml");
            File.WriteAllText(config, $"""
                global:
                  scrape_interval: 1s
                  evaluation_interval: 1s
                scrape_configs:
                  - job_name: grid
                    metrics_path: {target.AbsolutePath}
                    static_configs:
                      - targets: ['{target.Authority}']
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
            var started = new PrometheusProcess(process, folder, new Uri($"http://127.0.0.1:{port}/"));
            process.OutputDataReceived += (_, e) => started.Append(e.Data);
            process.ErrorDataReceived += (_, e) => started.Append(e.Data);
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
            return started;
        }

        /// <summary>Polls an instant query until its single value satisfies the condition (30 s at most).</summary>
        public async Task<double> WaitForValueAsync(string query, Func<double?, bool> condition)
        {
            var clock = Stopwatch.StartNew();
            double? last = null;
            while (clock.Elapsed < TimeSpan.FromSeconds(30) && !_process.HasExited)
            {
                last = await TryQueryAsync(query);
                if (condition(last))
                {
                    return last!.Value;
                }

                await Task.Delay(250, TestContext.Current.CancellationToken);
            }

            throw new TimeoutException($"Query {query} never met the condition; last value {last?.ToString() ?? "none"}.");
        }

        private async Task<double?> TryQueryAsync(string query)
        {
            try
            {
                string json = await _http.GetStringAsync("api/v1/query?query=" + Uri.EscapeDataString(query),
                    TestContext.Current.CancellationToken);
                using var document = JsonDocument.Parse(json);
                var result = document.RootElement.GetProperty("data").GetProperty("result");
                if (result.GetArrayLength() != 1)
                {
                    return null;
                }

                string value = result[0].GetProperty("value")[1].GetString()!;
                return double.Parse(value, CultureInfo.InvariantCulture);
            }
            catch (HttpRequestException)
            {
                return null; // not listening yet
            }
        }

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
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                _process.WaitForExit(5000);
            }

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
}
