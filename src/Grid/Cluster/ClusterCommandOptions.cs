using System.CommandLine;
using Grid.Hosting.Configuration;
using Microsoft.Extensions.Configuration;

namespace Grid.Cli.Cluster;

/// <summary>
/// The options every cluster command shares (which cluster, where its storage is, a settings file). A flag given on
/// the command line overrides the same key from appsettings.json, the --settings file and the environment.
/// </summary>
internal sealed class ClusterCommandOptions
{
    public Option<FileInfo?> Settings { get; } = new("--settings")
    {
        Description = "JSON file with a \"Grid\" section (keys as in appsettings.json); applied over appsettings.json.",
    };

    public Option<string?> Cluster { get; } = new("--cluster")
    {
        Description = "How silos find each other: localhost or azure (Azure Table membership). Key Grid:Cluster.",
    };

    public Option<string?> Storage { get; } = new("--storage")
    {
        Description = "Where grain state and weights live: memory (weights in a local folder) or azure. Key Grid:Storage.",
    };

    public Option<string?> ClusterId { get; } = new("--cluster-id")
    {
        Description = "Silos and clients with the same cluster id form one cluster (default grid). Key Grid:ClusterId.",
    };

    public Option<string?> WeightFolder { get; } = new("--weight-folder")
    {
        Description = "Storage=memory: the folder every silo and client shares for weights. Key Grid:WeightFolder.",
    };

    public Option<string?> TlsCertificate { get; } = new("--tls-cert")
    {
        Description = "Mutual TLS: this process's certificate, PEM (with --tls-key) or PFX; off when no TLS setting is given. "
            + "Key Grid:Tls:Certificate.",
    };

    public Option<string?> TlsKey { get; } = new("--tls-key")
    {
        Description = "Mutual TLS: the PEM private key of --tls-cert (omit for a PFX). Key Grid:Tls:Key; an encrypted key's or "
            + "a PFX's password only from Grid:Tls:Password (GRID__TLS__PASSWORD).",
    };

    public Option<string?> TlsAuthority { get; } = new("--tls-ca")
    {
        Description = "Mutual TLS: PEM file of the CA every peer's certificate must chain to. Key Grid:Tls:CertificateAuthority.",
    };

    public void AddTo(Command command)
    {
        foreach (var option in new Option[] { Settings, Cluster, Storage, ClusterId, WeightFolder, TlsCertificate, TlsKey, TlsAuthority })
        {
            command.Options.Add(option);
        }
    }

    /// <summary>The flags as configuration keys under <c>Grid</c> (null = not given).</summary>
    public Dictionary<string, string?> Flags(ParseResult parse) => new()
    {
        [nameof(GridSiloOptions.Cluster)] = parse.GetValue(Cluster) is { } c ? GridSiloOptions.ParseCluster(c).ToString() : null,
        [nameof(GridSiloOptions.Storage)] = parse.GetValue(Storage) is { } s ? GridSiloOptions.ParseStorage(s).ToString() : null,
        [nameof(GridSiloOptions.ClusterId)] = parse.GetValue(ClusterId),
        [nameof(GridSiloOptions.WeightFolder)] = parse.GetValue(WeightFolder),
        [$"{nameof(GridSiloOptions.Tls)}:{nameof(GridTlsOptions.Certificate)}"] = parse.GetValue(TlsCertificate),
        [$"{nameof(GridSiloOptions.Tls)}:{nameof(GridTlsOptions.Key)}"] = parse.GetValue(TlsKey),
        [$"{nameof(GridSiloOptions.Tls)}:{nameof(GridTlsOptions.CertificateAuthority)}"] = parse.GetValue(TlsAuthority),
    };

    public IConfiguration Configuration(ParseResult parse, IReadOnlyDictionary<string, string?>? more = null)
    {
        var flags = Flags(parse);
        foreach (var (key, value) in more ?? new Dictionary<string, string?>())
        {
            flags[key] = value;
        }

        return ClusterConfiguration.Build(parse.GetValue(Settings)?.FullName, flags);
    }
}
