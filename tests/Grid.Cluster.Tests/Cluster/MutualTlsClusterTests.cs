using System.Diagnostics;
using Azure.Data.Tables;
using Grid.Cluster.Tests.Infrastructure;

namespace Grid.Cluster.Tests.Cluster;

/// <summary>
/// Mutual TLS as a user runs it, on loopback (the network-namespace variant is in NamespaceClusterTests.Tls.cs): certificates from
/// `grid tls create-dev-certs`, two `grid silo` processes with Azure Table clustering on Azurite, and `grid submit` with
/// a trusted client certificate. While the run goes on, a silo with a certificate of another CA, a client without a
/// certificate and a client whose certificate the cluster's CA did not sign are all refused, and the run completes.
/// </summary>
public sealed class MutualTlsClusterTests(AzuriteFixture azurite, ITestOutputHelper output)
    : IClassFixture<AzuriteFixture>, IAsyncDisposable
{
    private const string RunId = "tls-smoke";
    private static readonly TimeSpan SiloStartTimeout = TimeSpan.FromSeconds(120);
    private static readonly TimeSpan RunTimeout = TimeSpan.FromSeconds(240);
    private readonly GridProcesses _processes = new("grid-tls-");

    [Fact]
    public async Task Only_silos_and_clients_with_a_certificate_of_the_clusters_ca_join_and_the_run_is_unharmed()
    {
        var cancellation = TestContext.Current.CancellationToken;
        var clock = Stopwatch.StartNew();
        var trusted = await DevCertificates.CreateAsync(_processes, Path.Combine(_processes.WorkFolder, "trusted"), "Grid cluster CA", cancellation);
        var other = await DevCertificates.CreateAsync(_processes, Path.Combine(_processes.WorkFolder, "other"), "Other CA", cancellation);
        // A client that trusts the cluster's CA (so it accepts the gateways) but whose own certificate another CA signed.
        string both = Path.Combine(_processes.WorkFolder, "both-cas.pem");
        File.WriteAllText(both, File.ReadAllText(trusted.Authority) + File.ReadAllText(other.Authority));

        string clusterId = "tls-" + Guid.NewGuid().ToString("N")[..8];
        var environment = new Dictionary<string, string?> { ["GRID_AZURE_STORAGE"] = azurite.ConnectionString };
        string[] common = ["--cluster", "azure", "--storage", "azure", "--cluster-id", clusterId];
        string[] siloTls = trusted.Silo();
        string[] clientTls = trusted.Client();

        var silos = new[] { Silo("silo0", environment, [.. common, .. siloTls, "--gpu", "1"]), Silo("silo1", environment, [.. common, .. siloTls]) };
        foreach (var silo in silos)
        {
            await silo.Process.WaitForOutputAsync("grid silo ready", SiloStartTimeout, cancellation);
        }

        Assert.Contains("Tls = mutual TLS", silos[0].Process.Output);
        double secondsToCluster = clock.Elapsed.TotalSeconds;
        var submit = _processes.Start("submit", environment,
            ["submit", "--preset", "smoke", .. common, .. clientTls, "--run-id", RunId, "--wait", "--output", Path.Combine(_processes.WorkFolder, "runs")]);

        // While the run goes on: a silo of another cluster's CA, a client without TLS, and one with a foreign certificate.
        var rogue = Silo("rogue-silo", environment, [.. common, .. other.Silo()]);
        var plain = _processes.Start("client-without-certificate", environment, ["status", RunId, .. common]);
        var foreign = _processes.Start("client-of-another-ca", environment, ["status", RunId, .. common, .. other.Client(both)]);
        foreach (var refused in new[] { plain, foreign })
        {
            int exit = await refused.WaitForExitAsync(TimeSpan.FromSeconds(60), cancellation);
            output.WriteLine($"{refused.Name}: exit {exit}: {refused.Output.Trim()}");
            Assert.NotEqual(0, exit);
            Assert.Contains($"Cannot reach cluster '{clusterId}'", refused.Output);
            Assert.Contains("--tls-cert", refused.Output); // the error says what to give
            Assert.DoesNotMatch(@"(?m)^\s+at \S+\(", refused.Output);
        }

        Assert.Contains("If the cluster uses mutual TLS", plain.Output);
        // The gateways say why they refused the foreign client.
        await WaitForAsync(() => SiloLogs().Contains("refused the peer's certificate 'CN=grid-client' (issuer 'CN=Other CA'", StringComparison.Ordinal),
            "a gateway's refusal of the foreign client certificate", cancellation);

        // The rogue silo never becomes active; its own log says whose certificate it could not trust.
        await WaitForAsync(() => rogue.Process.Output.Contains("refused the peer's certificate 'CN=grid-silo' (issuer 'CN=Grid cluster CA'", StringComparison.Ordinal),
            "the rogue silo's refusal of the cluster's certificates", cancellation);

        int submitExit = await submit.WaitForExitAsync(RunTimeout, cancellation);
        output.WriteLine($"2 TLS silos up in {secondsToCluster:F1} s; whole test so far {clock.Elapsed.TotalSeconds:F1} s");
        output.WriteLine(submit.Output);
        Assert.True(submitExit == 0, $"grid submit exited {submitExit}:\n{submit.Output}\n{SiloLogs()}");
        Assert.Contains($"run {RunId} completed 3 steps", submit.Output);
        Assert.DoesNotContain("grid silo ready", rogue.Process.Output);
        Assert.All(silos, silo => Assert.False(silo.Process.HasExited, $"{silo.Process.Name} exited:\n{silo.Process.Output}"));
        var rows = new TableServiceClient(azurite.ConnectionString).GetTableClient("OrleansSiloInstances")
            .Query<TableEntity>(cancellationToken: cancellation).Where(r => r.GetString("DeploymentId") == clusterId).ToList();
        Assert.DoesNotContain(rows, r => r.GetString("Port") == rogue.Port.ToString() && r.GetString("Status") == "Active");
        Assert.Equal(2, rows.Count(r => r.GetString("Status") == "Active"));

        // The trusted client still gets answers.
        var status = _processes.Start("status", environment, ["status", RunId, .. common, .. clientTls]);
        Assert.Equal(0, await status.WaitForExitAsync(TimeSpan.FromSeconds(60), cancellation));
        Assert.Contains("Completed", status.Output);
        output.WriteLine($"rogue silo: {(rogue.Process.HasExited ? $"exited {rogue.Process.ExitCode}" : "still refused")}; test took {clock.Elapsed.TotalSeconds:F1} s");
        // How it ended, without stack frames (a silo that finds itself declared dead stops the process at once).
        var ending = rogue.Process.Output.Split('\n').Where(line => !line.TrimStart().StartsWith("at ", StringComparison.Ordinal)).TakeLast(15);
        output.WriteLine(string.Join("\n", ending.Select(line => line.Length > 600 ? line[..600] : line)));
    }

    [Fact]
    public async Task A_silo_given_a_certificate_without_its_key_is_refused_at_start()
    {
        var cancellation = TestContext.Current.CancellationToken;
        string folder = (await DevCertificates.CreateAsync(_processes, Path.Combine(_processes.WorkFolder, "certs"), "Grid cluster CA", cancellation)).Folder;

        var silo = _processes.Start("silo-without-key", new Dictionary<string, string?>(),
            ["silo", "--tls-cert", Path.Combine(folder, "silo.pem"), "--tls-ca", Path.Combine(folder, "ca.pem"),
             "--silo-port", GridProcess.FreeLoopbackPort().ToString(), "--gateway-port", GridProcess.FreeLoopbackPort().ToString()]);

        Assert.Equal(2, await silo.WaitForExitAsync(TimeSpan.FromSeconds(60), cancellation));
        string message = string.Join(" ", silo.Output.Split('\n', StringSplitOptions.TrimEntries));
        Assert.Contains("Grid:Tls:Key (--tls-key) is not set", message);
        Assert.Contains(Path.Combine(folder, "silo.pem"), message);
        Assert.DoesNotContain("grid silo ready", silo.Output);
    }

    public ValueTask DisposeAsync() => _processes.DisposeAsync();

    private (GridProcess Process, int Port) Silo(string name, Dictionary<string, string?> environment, string[] arguments)
    {
        int port = GridProcess.FreeLoopbackPort();
        var process = _processes.Start(name, environment,
        [
            "silo", .. arguments, "--advertised-address", "127.0.0.1", "--silo-port", port.ToString(),
            "--gateway-port", GridProcess.FreeLoopbackPort().ToString(), "--metrics-port", "0",
        ]);
        return (process, port);
    }

    private async Task WaitForAsync(Func<bool> condition, string what, CancellationToken cancellation)
    {
        var clock = Stopwatch.StartNew();
        while (!condition())
        {
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(90), $"no {what} within 90 s:\n{_processes.Logs()}");
            await Task.Delay(250, cancellation);
        }
    }

    private string SiloLogs() => _processes.Logs("silo");
}
