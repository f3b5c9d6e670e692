using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Grid.Cluster.Tests.Infrastructure;

namespace Grid.Cluster.Tests.Cluster;

/// <summary>
/// Slow network (issue 17): the four-node namespace cluster of <see cref="NamespaceClusterTests"/> with every silo link
/// delayed in user space, for kernels without tc netem (this one and CI's). Each silo listens on internal ports
/// (<c>--silo-listen-port</c>, <c>--gateway-listen-port</c>) and advertises 11111/30000 on its node's address, where a
/// <see cref="DelayRelay"/> in the node's namespace forwards to it: every byte another silo or `grid submit` sends a silo,
/// and every answer, waits the relay's delay, so a message between two nodes takes 20 ms more and a round trip 40 ms
/// more (what netem delaying every packet to a node by 20 ms gives). Azure Table and Blob traffic to Azurite's node is
/// not delayed: membership and checkpoints see a fast store. The same run goes once with the relays at 0 ms and once
/// at 20 ms and once more at 0 ms (A-B-A, after a short warm-up run); the median step times and their ratio are printed.
/// </summary>
public sealed class SlowNetworkTests(ITestOutputHelper output) : IAsyncDisposable
{
    private const int SiloPort = 11111;
    private const int GatewayPort = 30000;
    private const int SiloListenPort = 21111;
    private const int GatewayListenPort = 40000;
    private const int EchoPort = 7007;
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(180);
    private static readonly TimeSpan Delay = TimeSpan.FromMilliseconds(20);
    private readonly GridProcesses _processes = new("grid-slow-");
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly List<IAsyncDisposable> _owned = [];

    [Fact]
    public async Task With_20_ms_on_every_silo_link_a_run_completes_and_the_step_time_overhead_is_reported()
    {
        var (network, azurite) = await NodeNetwork.StartWithStorageAsync(Log, _owned);
        string clusterId = "slow-" + Guid.NewGuid().ToString("N")[..8];
        string[] common = ["--cluster", "azure", "--storage", "azure", "--cluster-id", clusterId];
        var environment = new Dictionary<string, string?> { ["GRID_AZURE_STORAGE"] = azurite.ConnectionString };

        // An echo on the host, reached through the first node's relay: a round trip measures what the relays add.
        using var echo = new TcpListener(network.HostAddress, 0);
        echo.Start();
        _ = EchoAsync(echo);
        var echoAt = (IPEndPoint)echo.LocalEndpoint;

        var relays = new List<DelayRelay>();
        var silos = new List<GridProcess>();
        Node? first = null;
        // One after the other, as in NamespaceClusterTests: silos starting together on 2 cores miss membership probes.
        foreach (string name in new[] { "gpu0", "roll0", "roll1", "roll2" })
        {
            var node = await network.AddNodeAsync(name);
            var routes = new List<(IPEndPoint, IPEndPoint)>
            {
                (new IPEndPoint(node.Address, SiloPort), new IPEndPoint(IPAddress.Loopback, SiloListenPort)),
                (new IPEndPoint(node.Address, GatewayPort), new IPEndPoint(IPAddress.Loopback, GatewayListenPort)),
            };
            if (first is null)
            {
                first = node;
                routes.Add((new IPEndPoint(node.Address, EchoPort), echoAt));
            }

            var relay = await DelayRelay.StartAsync(node, TimeSpan.Zero, routes, Cancellation);
            _owned.Add(relay);
            relays.Add(relay);
            var silo = _processes.StartUnder(node.Launcher, $"silo-{name}", environment,
            [
                "silo", .. common, .. (name.StartsWith("gpu", StringComparison.Ordinal) ? new[] { "--gpu", "1" } : []),
                "--advertised-address", node.Address.ToString(), "--silo-port", Port(SiloPort), "--gateway-port", Port(GatewayPort),
                "--silo-listen-port", Port(SiloListenPort), "--gateway-listen-port", Port(GatewayListenPort), "--metrics-port", "0",
            ]);
            await silo.WaitForOutputAsync("grid silo ready", Timeout, Cancellation);
            silos.Add(silo);
        }

        Log($"4 silos behind relays and Azurite on their own nodes up {_clock.Elapsed.TotalSeconds:F1} s after the start");
        const int steps = 10;
        const int prompts = 6;
        // A short run first: the silos' and submit's first run pays JIT and learner setup, which would fall on the 0 ms run.
        await RunAsync("warm-up", 2, prompts, common, environment);
        var fastRoundTrip = await RoundTripAsync(first!);
        var (fast, fastWall) = await RunAsync("relay-0ms", steps, prompts, common, environment);

        foreach (var relay in relays)
        {
            await relay.SetDelayAsync(Delay);
        }

        var slowRoundTrip = await RoundTripAsync(first!);
        Assert.True(slowRoundTrip >= 2 * Delay, $"a round trip through a relay at {Delay.TotalMilliseconds} ms took {slowRoundTrip.TotalMilliseconds:F1} ms");
        Assert.True(fastRoundTrip < Delay, $"a round trip through a relay at 0 ms took {fastRoundTrip.TotalMilliseconds:F1} ms");
        var (slow, slowWall) = await RunAsync("relay-20ms", steps, prompts, common, environment);

        // 0 ms again: a later run is faster on its own (the silos' code keeps warming up); the baseline pools both.
        foreach (var relay in relays)
        {
            await relay.SetDelayAsync(TimeSpan.Zero);
        }

        var (again, againWall) = await RunAsync("relay-0ms-again", steps, prompts, common, environment);
        fast = [.. fast, .. again];
        fastWall += againWall;
        double fastStep = Median(fast), slowStep = Median(slow);
        Log($"slow network: round trip host->node through a relay {fastRoundTrip.TotalMilliseconds:F1} ms at 0 ms, "
            + $"{slowRoundTrip.TotalMilliseconds:F1} ms at {Delay.TotalMilliseconds:F0} ms; median step {fastStep:F2} s at 0 ms, "
            + $"{slowStep:F2} s at {Delay.TotalMilliseconds:F0} ms: overhead {slowStep - fastStep:F2} s per step, ratio {slowStep / fastStep:F2}; "
            + $"steps at 0 ms [{Steps(fast)}] (both submits {fastWall.TotalSeconds:F1} s), at 20 ms [{Steps(slow)}] (submit {slowWall.TotalSeconds:F1} s)");
        Assert.All(silos, silo => Assert.False(silo.HasExited, $"{silo.Name} exited:\n{silo.Output}"));
    }

    public async ValueTask DisposeAsync()
    {
        await _processes.DisposeAsync();
        for (int i = _owned.Count - 1; i >= 0; i--)
        {
            await _owned[i].DisposeAsync();
        }
    }

    private static CancellationToken Cancellation => TestContext.Current.CancellationToken;

    private static string Port(int port) => port.ToString(CultureInfo.InvariantCulture);

    /// <summary>Submits the run (fixed seed) from the host and waits for it; checks metrics.jsonl has every step once.</summary>
    private async Task<(JsonElement[] Metrics, TimeSpan Wall)> RunAsync(string run, int steps, int prompts, string[] common,
        Dictionary<string, string?> environment)
    {
        var clock = Stopwatch.StartNew();
        var submit = _processes.Start($"submit-{run}", environment,
        [
            "submit", "--preset", "smoke", "--set", $"steps={steps}", "--set", $"prompts_per_step={prompts}", "--set", "seed=1",
            .. common, "--run-id", run, "--wait", "--output", Path.Combine(_processes.WorkFolder, run),
        ]);
        Assert.True(await submit.WaitForExitAsync(Timeout, Cancellation) == 0, submit.Output + _processes.Logs("silo"));
        string folder = Directory.GetDirectories(Path.Combine(_processes.WorkFolder, run)).Single();
        var metrics = File.ReadAllLines(Path.Combine(folder, "metrics.jsonl")).Select(l => JsonDocument.Parse(l).RootElement.Clone()).ToArray();
        Assert.Equal(Enumerable.Range(0, steps).Select(s => (long)s), metrics.Select(m => m.GetProperty("step").GetInt64()));
        Assert.All(metrics, m => Assert.Equal(prompts, m.GetProperty("groups").GetInt32()));
        Log($"{run}: {steps} steps in {clock.Elapsed.TotalSeconds:F1} s of submit: [{Steps(metrics)}]");
        return (metrics, clock.Elapsed);
    }

    private static double[] Seconds(JsonElement[] metrics) => metrics.Select(m => m.GetProperty("seconds_total").GetDouble()).ToArray();

    private static double Median(JsonElement[] metrics) => Seconds(metrics).Order().ElementAt(metrics.Length / 2);

    private static string Steps(JsonElement[] metrics) => string.Join(", ", Seconds(metrics).Select(s => s.ToString("F2", CultureInfo.InvariantCulture)));

    /// <summary>The shortest of five one-byte round trips from the host to the echo behind the node's relay.</summary>
    private static async Task<TimeSpan> RoundTripAsync(Node node)
    {
        using var client = new TcpClient { NoDelay = true };
        await client.ConnectAsync(node.Address, EchoPort, Cancellation);
        var stream = client.GetStream();
        var best = TimeSpan.MaxValue;
        var buffer = new byte[1];
        for (int i = 0; i < 5; i++)
        {
            var clock = Stopwatch.StartNew();
            await stream.WriteAsync(buffer, Cancellation);
            await stream.ReadExactlyAsync(buffer, Cancellation);
            best = clock.Elapsed < best ? clock.Elapsed : best;
        }

        return best;
    }

    private static async Task EchoAsync(TcpListener listener)
    {
        try
        {
            while (true)
            {
                var socket = await listener.AcceptSocketAsync();
                _ = Task.Run(async () =>
                {
                    using (socket)
                    {
                        var buffer = new byte[1024];
                        int read;
                        while ((read = await socket.ReceiveAsync(buffer)) > 0)
                        {
                            await socket.SendAsync(buffer.AsMemory(0, read));
                        }
                    }
                });
            }
        }
        catch (Exception error) when (error is SocketException or ObjectDisposedException)
        {
            // the listener stopped at the end of the test
        }
    }

    private void Log(string line)
    {
        try
        {
            output.WriteLine($"[{_clock.Elapsed.TotalSeconds,6:F1} s] {line}");
        }
        catch (InvalidOperationException)
        {
            // teardown after the test was reported: nowhere to write
        }
    }
}
