using Grid.Cluster.Tests.Infrastructure;
using Grid.Hosting;
using Grid.Hosting.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Grid.Cluster.Tests.Cluster;

/// <summary>
/// A second `grid silo` given a port a running silo already listens on is refused at start, and the running silo does
/// not notice. Before, Orleans took a newcomer on a used silo port for a restart of the silo there and declared the
/// running one dead; a used gateway port gave two processes on one port.
/// </summary>
public sealed class SiloPortTests(ITestOutputHelper output) : IAsyncDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);
    private readonly GridProcesses _processes = new("grid-silo-ports-");

    [Fact]
    public async Task A_silo_on_a_used_silo_or_gateway_port_is_refused_and_the_running_silo_carries_on()
    {
        var cancellation = TestContext.Current.CancellationToken;
        string clusterId = "ports-" + Guid.NewGuid().ToString("N")[..8];
        int siloPort = GridProcess.FreeLoopbackPort(), gatewayPort = GridProcess.FreeLoopbackPort();
        var running = Silo("running", clusterId, siloPort, gatewayPort, primary: null);
        await running.WaitForOutputAsync("grid silo ready", Timeout, cancellation);

        var sameSiloPort = Silo("same-silo-port", clusterId, siloPort, GridProcess.FreeLoopbackPort(), primary: siloPort);
        var sameGatewayPort = Silo("same-gateway-port", clusterId, GridProcess.FreeLoopbackPort(), gatewayPort, primary: siloPort);
        foreach (var (refused, port, flag) in new[] { (sameSiloPort, siloPort, "--silo-port"), (sameGatewayPort, gatewayPort, "--gateway-port") })
        {
            int exit = await refused.WaitForExitAsync(TimeSpan.FromSeconds(30), cancellation);
            output.WriteLine($"{refused.Name}: exit {exit}: {refused.Output.Trim()}");
            Assert.Equal(2, exit);
            string message = string.Join(" ", refused.Output.Split('\n', StringSplitOptions.TrimEntries));
            Assert.Contains($"{port} is already in use", message, StringComparison.Ordinal);
            Assert.Contains(flag, message, StringComparison.Ordinal);
            Assert.DoesNotContain("grid silo ready", refused.Output, StringComparison.Ordinal);
            Assert.DoesNotMatch(@"(?m)^\s+at \S+\(", refused.Output);
        }

        // The running silo still serves, alone in its cluster, and said nothing of another silo.
        using var host = await TestClients.ConnectAsync(new GridClientOptions { GatewayPorts = [gatewayPort], ClusterId = clusterId },
            cancellation);
        var hosts = await host.Services.GetRequiredService<IClusterClient>().GetGrain<IManagementGrain>(0)
            .GetHosts(onlyActive: true, cancellationToken: cancellation);
        await host.StopAsync(cancellation);
        Assert.Single(hosts);
        Assert.False(running.HasExited);
        Assert.DoesNotMatch(@"(?i)\bdead\b", running.Output); // a silo declared or suspected dead ("deadlock" is another word)
    }

    public ValueTask DisposeAsync() => _processes.DisposeAsync();

    private GridProcess Silo(string name, string clusterId, int siloPort, int gatewayPort, int? primary) => _processes.Start(name,
        new Dictionary<string, string?>(),
        [
            "silo", "--cluster-id", clusterId, "--silo-port", siloPort.ToString(), "--gateway-port", gatewayPort.ToString(),
            .. (primary is { } p ? new[] { "--primary-port", p.ToString() } : []), "--metrics-port", "0",
            "--weight-folder", Path.Combine(_processes.WorkFolder, "weights"),
        ]);
}
