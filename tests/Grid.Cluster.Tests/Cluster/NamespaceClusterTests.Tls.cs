using System.Diagnostics;
using Azure.Data.Tables;
using Grid.Cluster.Tests.Infrastructure;

namespace Grid.Cluster.Tests.Cluster;

/// <summary>Mutual TLS on nodes with their own addresses (the loopback variant is <see cref="MutualTlsClusterTests"/>).</summary>
public sealed partial class NamespaceClusterTests
{
    /// <summary>
    /// Two TLS silos (one --gpu 1) and Azurite on nodes of their own. On a third node a silo whose certificate another CA
    /// signed never becomes Active (its log says whose certificate it refused), a client without a certificate (from the
    /// host) and one with a foreign certificate (from the third node) are refused with a message saying what to give, and
    /// the cluster is unharmed: a trusted client's smoke run completes on the two silos. Then a trusted silo started on
    /// the third node joins and generates rollouts of the next run.
    /// </summary>
    [Fact]
    public async Task With_mutual_TLS_a_node_without_a_trusted_certificate_is_refused_and_a_trusted_one_joins_and_gets_work()
    {
        string? unavailable = NodeNetwork.Unavailable();
        Assert.SkipWhen(unavailable is not null, unavailable ?? "");
        var trusted = await DevCertificates.CreateAsync(_processes, Path.Combine(_processes.WorkFolder, "trusted"), "Grid cluster CA", Cancellation);
        var other = await DevCertificates.CreateAsync(_processes, Path.Combine(_processes.WorkFolder, "other"), "Other CA", Cancellation);
        // A client that trusts the cluster's CA (so it accepts the gateways) but whose own certificate another CA signed.
        string both = Path.Combine(_processes.WorkFolder, "both-cas.pem");
        File.WriteAllText(both, File.ReadAllText(trusted.Authority) + File.ReadAllText(other.Authority));

        var cluster = await StartClusterAsync(gpuNodes: 1, rolloutNodes: 1, trusted);
        Assert.Contains("Tls = mutual TLS", cluster.Gpu[0].Process.Output);
        var third = await cluster.Network.AddNodeAsync("third");

        // While a trusted client's run goes on: a silo of another CA on the third node, a client without a certificate
        // on the host and one with a foreign certificate on the third node.
        const string first = "netns-tls";
        var submit = Submit(cluster, first, steps: 2, prompts: 4, wait: true);
        var rogue = StartSilo(cluster, third, gpu: false, "rogue", other.Silo());
        var plain = _processes.Start("client-without-certificate", cluster.Environment, ["status", first, .. cluster.Common]);
        var foreign = _processes.StartUnder(third.Launcher, "client-of-another-ca", cluster.Environment,
            ["status", first, .. cluster.Common, .. other.Client(both)]);
        foreach (var refused in new[] { plain, foreign })
        {
            int exit = await refused.WaitForExitAsync(TimeSpan.FromSeconds(90), Cancellation);
            Log($"{refused.Name}: exit {exit}: {refused.Output.Trim()}");
            Assert.Equal(2, exit);
            Assert.Contains($"Cannot reach cluster '{cluster.Id}'", refused.Output);
            Assert.Contains("--tls-cert", refused.Output); // the error says what to give
            Assert.DoesNotMatch(@"(?m)^\s+at \S+\(", refused.Output);
        }

        Assert.Contains("If the cluster uses mutual TLS", plain.Output);
        // The gateways say why they refused the foreign client, and the rogue silo whose certificates it could not trust.
        await WaitForTextAsync(() => _processes.Logs("silo-"), "refused the peer's certificate 'CN=grid-client' (issuer 'CN=Other CA'");
        await WaitForTextAsync(() => rogue.Process.Output, "refused the peer's certificate 'CN=grid-silo' (issuer 'CN=Grid cluster CA'");

        Assert.True(await submit.WaitForExitAsync(Timeout, Cancellation) == 0, submit.Output + _processes.Logs("silo"));
        AssertEveryStepOnce(ReadMetrics(first), steps: 2, prompts: 4);
        Log($"{first} completed on the two trusted nodes: {Seconds(ReadMetrics(first))}");

        // The cluster is unharmed: both silos still run and are Active; the rogue never was.
        Assert.All(cluster.Gpu.Concat(cluster.Rollout), silo => Assert.False(silo.Process.HasExited, $"{silo.Process.Name} exited:\n{silo.Process.Output}"));
        var rows = await MembershipAsync(cluster);
        Log("membership: " + string.Join(", ", rows.Where(r => r.Address is { Length: > 0 }).Select(r => $"{r.Address}:{r.Port} {r.Status}")));
        Assert.DoesNotContain(rows, r => r.Address == third.Address.ToString() && r.Status == "Active");
        Assert.Equal(2, rows.Count(r => r.Status == "Active"));
        Assert.DoesNotContain("grid silo ready", rogue.Process.Output);
        // The rogue exits once the cluster declares it dead (Orleans stops the process: exit 134); how it ended is printed.
        string told = rogue.Process.Output.Split('\n').FirstOrDefault(l => l.Contains(ToldDead, StringComparison.Ordinal))?.Trim() ?? "(not told it is dead yet)";
        Log($"rogue silo on {third}: {(rogue.Process.HasExited ? $"exited {rogue.Process.ExitCode}" : "still refused, running")}; {told}");

        // A trusted silo on the same node (the rogue stopped first: same ports) joins and gets groups of the next run.
        await rogue.Process.DisposeAsync();
        var clock = Stopwatch.StartNew();
        var joined = await StartSiloAsync(cluster, third, gpu: false, "trusted");
        const string second = "netns-tls-joined";
        const int prompts = 6; // 24 groups on 3 silos by random placement: the newcomer misses all with p = (2/3)^24 < 1e-4
        var next = Submit(cluster, second, steps: 4, prompts, wait: true);
        await WaitForRolloutsAsync(joined, second);
        Log($"trusted silo on {third} ready and generating rollouts of {second} {clock.Elapsed.TotalSeconds:F1} s after it was started");
        Assert.True(await next.WaitForExitAsync(Timeout, Cancellation) == 0, next.Output + _processes.Logs("silo"));
        AssertEveryStepOnce(ReadMetrics(second), steps: 4, prompts);
        Assert.Equal(3, (await MembershipAsync(cluster)).Count(r => r.Status == "Active"));
        Log($"rollouts of {second} by node: {string.Join(", ", (await RolloutsByNodeAsync(cluster, second)).Select(r => $"{r.Key} {r.Value}"))}, "
            + $"{third.Name} {await RolloutsAsync(joined, second)}; test took {_clock.Elapsed.TotalSeconds:F1} s");
    }

    /// <summary>The cluster's rows of the membership table.</summary>
    private async Task<List<(string? Address, string? Port, string? Status)>> MembershipAsync(TestCluster cluster)
    {
        var table = new TableServiceClient(cluster.Storage).GetTableClient("OrleansSiloInstances");
        var rows = await Task.Run(() => table.Query<TableEntity>(cancellationToken: Cancellation).ToList(), Cancellation);
        return rows.Where(r => Text(r, "DeploymentId") == cluster.Id)
            .Select(r => (Text(r, "Address"), Text(r, "Port"), Text(r, "Status"))).ToList();
    }

    private async Task WaitForTextAsync(Func<string> output, string text)
    {
        var clock = Stopwatch.StartNew();
        while (!output().Contains(text, StringComparison.Ordinal))
        {
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(90), $"no '{text}' within 90 s:\n{_processes.Logs()}");
            await Task.Delay(250, Cancellation);
        }
    }
}
