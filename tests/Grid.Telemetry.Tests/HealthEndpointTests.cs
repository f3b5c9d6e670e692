using System.Diagnostics;
using System.Net;

namespace Grid.Telemetry.Tests;

/// <summary>
/// <c>/healthz</c> on a silo's metrics port, for container and Kubernetes probes: a real <c>grid silo</c> process over
/// real HTTP answers 200 while it is Active in its cluster and 503 while it leaves, and /metrics stays a separate page.
/// </summary>
public sealed class HealthEndpointTests
{
    private static readonly TimeSpan SiloStartTimeout = TimeSpan.FromSeconds(120);

    [Fact]
    public async Task A_silo_is_healthy_while_active_in_its_cluster_and_unhealthy_while_it_leaves()
    {
        var cancellation = TestContext.Current.CancellationToken;
        await using var processes = new GridProcesses("grid-healthz-");
        int metricsPort = GridProcess.FreeLoopbackPort();
        var silo = processes.Start("silo", new Dictionary<string, string?>(), "silo", "--cluster", "localhost", "--storage", "memory",
            "--cluster-id", "healthz-" + Guid.NewGuid().ToString("N")[..8], "--weight-folder", Path.Combine(processes.WorkFolder, "weights"),
            "--silo-port", GridProcess.FreeLoopbackPort().ToString(), "--gateway-port", GridProcess.FreeLoopbackPort().ToString(),
            "--metrics-port", metricsPort.ToString());
        await silo.WaitForOutputAsync("grid silo ready", SiloStartTimeout, cancellation);
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        var health = new Uri($"http://127.0.0.1:{metricsPort}/healthz");

        using (var active = await http.GetAsync(health, cancellation))
        {
            string body = await active.Content.ReadAsStringAsync(cancellation);
            Assert.True(active.StatusCode == HttpStatusCode.OK, $"/healthz of an active silo answered {(int)active.StatusCode}: {body}");
            Assert.Contains("is Active in its cluster", body);
        }

        string metrics = await http.GetStringAsync(new Uri($"http://127.0.0.1:{metricsPort}/metrics"), cancellation);
        Assert.Contains("# TYPE", metrics);
        Assert.DoesNotContain("Active in its cluster", metrics);

        // SIGTERM: the silo leaves the cluster (ShuttingDown, then Dead) before the metrics server stops, so a probe sees
        // 503 between the two, then no answer at all.
        silo.Terminate();
        var unhealthy = new List<string>();
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < TimeSpan.FromSeconds(60))
        {
            try
            {
                using var answer = await http.GetAsync(health, cancellation);
                if (answer.StatusCode == HttpStatusCode.ServiceUnavailable)
                {
                    unhealthy.Add(await answer.Content.ReadAsStringAsync(cancellation));
                }
                else
                {
                    Assert.Equal(HttpStatusCode.OK, answer.StatusCode);
                    Assert.Empty(unhealthy); // never healthy again once it said it was leaving
                }
            }
            catch (HttpRequestException)
            {
                break; // the metrics server has stopped
            }

            await Task.Delay(10, cancellation);
        }

        Assert.True(unhealthy.Count > 0, $"/healthz never answered 503 while the silo stopped:\n{silo.Output}");
        Assert.Matches("is (ShuttingDown|Stopping|Dead) in its cluster", unhealthy[0]);
        Assert.Equal(0, await silo.WaitForExitAsync(TimeSpan.FromSeconds(60), cancellation));
    }

    [Fact]
    public async Task A_metrics_server_without_cluster_membership_answers_healthz_with_200()
    {
        await using var server = await GridMetricsServer.StartAsync(
            new GridTelemetryOptions { Port = 0, IncludeOrleans = false }, TestContext.Current.CancellationToken);
        using var http = new HttpClient();

        using var answer = await http.GetAsync(server.HealthEndpoint, TestContext.Current.CancellationToken);

        Assert.Equal(HttpStatusCode.OK, answer.StatusCode);
        Assert.Equal("/healthz", server.HealthEndpoint.AbsolutePath);
        Assert.Contains("no cluster membership", await answer.Content.ReadAsStringAsync(TestContext.Current.CancellationToken));
    }

    [Fact]
    public void The_health_path_must_differ_from_the_metrics_path()
    {
        var error = Assert.Throws<ArgumentException>(() => new GridTelemetryOptions { HealthPath = "/metrics" }.Validate());
        Assert.Contains("differ from the metrics path", error.Message);
    }
}
