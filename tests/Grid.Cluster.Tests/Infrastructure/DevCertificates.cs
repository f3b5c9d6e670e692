namespace Grid.Cluster.Tests.Infrastructure;

/// <summary>
/// A CA and the silo and client certificates it signed, made by `grid tls create-dev-certs` in <see cref="Folder"/>,
/// and the command-line flags that hand them to a grid process (the mutual TLS tests on loopback and on namespaces).
/// </summary>
public sealed record DevCertificates(string Folder, string CaName)
{
    /// <summary>The CA's certificate: what a process of this CA's cluster trusts.</summary>
    public string Authority => Path.Combine(Folder, "ca.pem");

    /// <summary>Runs `grid tls create-dev-certs` into <paramref name="folder"/> (valid for a day).</summary>
    public static async Task<DevCertificates> CreateAsync(GridProcesses processes, string folder, string caName,
        CancellationToken cancellation)
    {
        ArgumentNullException.ThrowIfNull(processes);
        var create = processes.Start("create-dev-certs", new Dictionary<string, string?>(),
            ["tls", "create-dev-certs", "--out", folder, "--ca-name", caName, "--days", "1"]);
        Assert.True(await create.WaitForExitAsync(TimeSpan.FromSeconds(60), cancellation) == 0, create.Output);
        return new DevCertificates(folder, caName);
    }

    /// <summary>A silo's flags: its certificate and key, trusting <paramref name="authority"/> (default: this CA).</summary>
    public string[] Silo(string? authority = null) => Flags("silo", authority);

    /// <summary>A client's flags: its certificate and key, trusting <paramref name="authority"/> (default: this CA).</summary>
    public string[] Client(string? authority = null) => Flags("client", authority);

    private string[] Flags(string role, string? authority) =>
        ["--tls-cert", Path.Combine(Folder, role + ".pem"), "--tls-key", Path.Combine(Folder, role + ".key"), "--tls-ca", authority ?? Authority];
}
