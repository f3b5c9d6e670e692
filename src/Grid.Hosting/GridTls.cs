using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Grid.Hosting.Configuration;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Orleans.Configuration;
using Orleans.Connections.Security;

namespace Grid.Hosting;

/// <summary>Which side of Grid's traffic a certificate serves: a silo is TLS server and client, a client only a client.</summary>
public enum GridTlsRole
{
    /// <summary>A silo: serves the silo port and the gateway and dials other silos (server and client authentication).</summary>
    Silo,

    /// <summary>A client (grid submit, status, resume): dials gateways (client authentication).</summary>
    Client,
}

/// <summary>
/// Mutual TLS for Grid (Orleans' <c>Microsoft.Orleans.Connections.Security</c>): every silo-to-silo and client-to-gateway
/// connection is TLS, and both ends must present a certificate that chains to the configured CA, checked against that
/// CA only (<see cref="X509ChainTrustMode.CustomRootTrust"/>), never the system store. Identity is membership: any
/// certificate the cluster's CA signed may join, so that CA must sign nothing else. Host names are not checked (silos
/// are dialled by IP address). Load it with <see cref="Load"/>, which refuses incomplete or unusable settings with a
/// message naming the key, the file, the problem and the fix.
/// </summary>
public sealed class GridTls
{
    /// <summary>Extended key usage for a TLS server (1.3.6.1.5.5.7.3.1).</summary>
    public const string ServerAuthentication = "1.3.6.1.5.5.7.3.1";

    /// <summary>Extended key usage for a TLS client (1.3.6.1.5.5.7.3.2).</summary>
    public const string ClientAuthentication = "1.3.6.1.5.5.7.3.2";

    private const string CertificateKey = "Grid:Tls:Certificate (--tls-cert)";
    private const string KeyKey = "Grid:Tls:Key (--tls-key)";
    private const string AuthorityKey = "Grid:Tls:CertificateAuthority (--tls-ca)";
    private const string PasswordKey = "Grid:Tls:Password (environment GRID__TLS__PASSWORD)";

    /// <summary>The connection being set up on this async flow, so a refusal can name its peer.</summary>
    private static readonly AsyncLocal<Handshake?> Current = new();

    private readonly GridTlsOptions _options;
    private readonly X509Certificate2Collection _authority;
    private volatile string? _lastRefusal;

    private GridTls(GridTlsOptions options, GridTlsRole role, X509Certificate2 certificate, X509Certificate2Collection authority)
    {
        _options = options;
        Role = role;
        Certificate = certificate;
        _authority = authority;
    }

    /// <summary>Silo or client.</summary>
    public GridTlsRole Role { get; }

    /// <summary>This process's certificate, with its private key.</summary>
    public X509Certificate2 Certificate { get; }

    /// <summary>
    /// Why this process last refused a peer's certificate (null: it has refused none). A client stops retrying once a
    /// gateway's certificate was refused: waiting does not make it trusted.
    /// </summary>
    public string? LastRefusal => _lastRefusal;

    /// <summary>
    /// Everything wrong with TLS settings for this role, one line each (empty: TLS is off, or on and usable). Reads the
    /// files, so a missing file, a key that is not the certificate's, a CA that does not parse, an expired certificate
    /// or one the CA did not sign is reported before the process joins anything.
    /// </summary>
    public static IReadOnlyList<string> Problems(GridTlsOptions? options, GridTlsRole role)
    {
        if (options is null || !options.Enabled)
        {
            return [];
        }

        var problems = new List<string>();
        using var loaded = TryLoad(options, role, problems);
        return problems;
    }

    /// <summary>Loads the certificate and CA; throws one <see cref="GridConfigurationException"/> listing every problem.</summary>
    public static GridTls Load(GridTlsOptions options, GridTlsRole role)
    {
        ArgumentNullException.ThrowIfNull(options);
        var problems = new List<string>();
        var loaded = TryLoad(options, role, problems);
        if (problems.Count > 0 || loaded is null)
        {
            loaded?.Dispose();
            throw new GridConfigurationException(
                "Invalid mutual TLS settings:" + Environment.NewLine + "  - "
                + string.Join(Environment.NewLine + "  - ", problems));
        }

        return new GridTls(options, role, loaded.Certificate!, loaded.Authority!);
    }

    /// <summary>TLS on the silo port, the gateway and this silo's connections to other silos.</summary>
    public void ApplyTo(ISiloBuilder silo)
    {
        ArgumentNullException.ThrowIfNull(silo);
        silo.Services.AddSingleton(this);
        silo.Configure<SiloConnectionOptions>(connections =>
        {
            // Only a silo's certificate (server and client usage) may dial the silo port; a client's may dial the gateway.
            connections.ConfigureSiloInboundConnection(builder => UseServer(builder, "silo port", silo: true));
            connections.ConfigureGatewayInboundConnection(builder => UseServer(builder, "gateway", silo: false));
            connections.ConfigureSiloOutboundConnection(builder => UseClient(builder, "silo"));
        });
    }

    /// <summary>TLS on a client's connections to gateways.</summary>
    public void ApplyTo(IClientBuilder client)
    {
        ArgumentNullException.ThrowIfNull(client);
        client.Services.AddSingleton(this);
        client.Configure<ClientConnectionOptions>(connections =>
            connections.ConfigureConnection(builder => UseClient(builder, "gateway")));
    }

    /// <summary>
    /// Null when <paramref name="certificate"/> chains to the configured CA and may be used as <paramref name="usages"/>;
    /// otherwise why not.
    /// </summary>
    public string? Refusal(X509Certificate2 certificate, X509Chain? presented, params string[] usages)
    {
        ArgumentNullException.ThrowIfNull(certificate);
        return ChainProblem(certificate, _authority, presented, usages);
    }

    private void UseServer(IConnectionBuilder builder, string endpoint, bool silo)
    {
        var logger = LoggerFor(builder);
        string[] usages = silo ? [ServerAuthentication, ClientAuthentication] : [ClientAuthentication];
        builder.Use(next => context => Watch(context, next, endpoint, logger));
        builder.UseServerTls(new TlsOptions
        {
            LocalCertificate = Certificate,
            RemoteCertificateMode = RemoteCertificateMode.RequireCertificate,
            ClientCertificateMode = RemoteCertificateMode.RequireCertificate,
            RemoteCertificateValidation = (certificate, chain, _) => Accept(certificate, chain, usages,
                silo ? "a silo certificate (server and client authentication)" : "a client certificate"),
        });
        builder.Use(next => context => Completed(context, next));
    }

    private void UseClient(IConnectionBuilder builder, string endpoint)
    {
        var logger = LoggerFor(builder);
        builder.Use(next => context => Watch(context, next, endpoint, logger));
        builder.UseClientTls(new TlsOptions
        {
            LocalCertificate = Certificate,
            RemoteCertificateMode = RemoteCertificateMode.RequireCertificate,
            ClientCertificateMode = RemoteCertificateMode.RequireCertificate,
            RemoteCertificateValidation = (certificate, chain, _) =>
                Accept(certificate, chain, [ServerAuthentication], "a server certificate"),
        });
        builder.Use(next => context => Completed(context, next));
    }

    private static ILogger LoggerFor(IConnectionBuilder builder) =>
        (builder.ApplicationServices.GetService<ILoggerFactory>() ?? NullLoggerFactory.Instance).CreateLogger<GridTls>();

    /// <summary>Outermost: when the handshake of this connection fails, one line naming the peer and the reason.</summary>
    private async Task Watch(ConnectionContext context, ConnectionDelegate next, string endpoint, ILogger logger)
    {
        var handshake = new Handshake();
        Current.Value = handshake;
        try
        {
            await next(context);
        }
        finally
        {
            Current.Value = null;
            if (!handshake.Completed)
            {
                string peer = context.RemoteEndPoint?.ToString() ?? "an unknown peer";
                logger.LogWarning(
                    "Mutual TLS: the handshake with {Peer} ({Endpoint}) failed: {Reason}", peer, endpoint,
                    handshake.Refusal ?? "the peer refused this process's certificate, presented none, closed the connection "
                        + "or does not speak TLS (the peer's log says which). Every silo and client of the cluster needs a "
                        + "certificate signed by the cluster's CA: docs/operations.md, \"Mutual TLS\".");
            }
        }
    }

    /// <summary>Innermost: reached only once TLS is established.</summary>
    private static Task Completed(ConnectionContext context, ConnectionDelegate next)
    {
        Current.Value?.Complete();
        return next(context);
    }

    private bool Accept(X509Certificate2 certificate, X509Chain? presented, string[] usages, string what)
    {
        string? problem = ChainProblem(certificate, _authority, presented, usages);
        if (problem is null)
        {
            return true;
        }

        string refusal = $"refused the peer's certificate '{certificate.Subject}' (issuer '{certificate.Issuer}', thumbprint "
            + $"{certificate.Thumbprint}): {problem}. The peer must present {what} signed by the CA in "
            + $"{_options.CertificateAuthority} ({Subjects(_authority)}); give it one (docs/operations.md, \"Mutual TLS\").";
        Current.Value?.Refuse(refusal);
        _lastRefusal = refusal;
        return false;
    }

    /// <summary>Null when the certificate chains to <paramref name="authority"/> (only) and has the usages.</summary>
    private static string? ChainProblem(X509Certificate2 certificate, X509Certificate2Collection authority, X509Chain? presented,
        string[] usages)
    {
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.AddRange(authority);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck; // the CA is private: no revocation list is published
        chain.ChainPolicy.VerificationTime = DateTime.Now;
        if (presented is not null)
        {
            foreach (var element in presented.ChainElements.Skip(1))
            {
                chain.ChainPolicy.ExtraStore.Add(element.Certificate); // intermediates the peer sent; trust still ends at the CA
            }
        }

        if (!chain.Build(certificate))
        {
            var statuses = chain.ChainStatus.Select(s => s.Status).Distinct().ToList();
            string detail = string.Join("; ", chain.ChainStatus.Select(s => s.StatusInformation.Trim()).Where(s => s.Length > 0).Distinct());
            if (statuses.Contains(X509ChainStatusFlags.NotTimeValid))
            {
                return $"it (or its CA) is outside its validity period (valid {certificate.NotBefore.ToUniversalTime():u} to "
                    + $"{certificate.NotAfter.ToUniversalTime():u}) [{detail}]";
            }

            return $"it does not chain to the trusted CA [{detail}]";
        }

        var missing = usages.Where(usage => !AllowsUsage(certificate, usage)).ToList();
        return missing.Count == 0
            ? null
            : $"its extended key usage lacks {string.Join(" and ", missing.Select(UsageName))}";
    }

    private static bool AllowsUsage(X509Certificate2 certificate, string usage)
    {
        var extension = certificate.Extensions.OfType<X509EnhancedKeyUsageExtension>().FirstOrDefault();
        return extension is null || extension.EnhancedKeyUsages.Cast<Oid>().Any(oid => oid.Value == usage);
    }

    private static string UsageName(string usage) => usage switch
    {
        ServerAuthentication => "server authentication (1.3.6.1.5.5.7.3.1)",
        ClientAuthentication => "client authentication (1.3.6.1.5.5.7.3.2)",
        _ => usage,
    };

    private static string Subjects(X509Certificate2Collection authority) =>
        string.Join(", ", authority.Select(c => $"'{c.Subject}'"));

    private static Loaded? TryLoad(GridTlsOptions options, GridTlsRole role, List<string> problems)
    {
        bool hasCertificate = !string.IsNullOrWhiteSpace(options.Certificate);
        bool hasAuthority = !string.IsNullOrWhiteSpace(options.CertificateAuthority);
        if (!hasCertificate)
        {
            problems.Add($"{CertificateKey} is not set, but other TLS settings are ({options}). Mutual TLS needs this "
                + "process's certificate: give its file (PEM with --tls-key, or PFX).");
        }

        if (!hasAuthority)
        {
            problems.Add($"{AuthorityKey} is not set, but other TLS settings are ({options}). Mutual TLS needs the CA "
                + "certificate that every peer's certificate must chain to: give its PEM file (e.g. ca.pem from "
                + "`grid tls create-dev-certs`).");
        }

        var authority = hasAuthority ? LoadAuthority(options.CertificateAuthority!, problems) : null;
        var certificate = hasCertificate ? LoadCertificate(options, problems) : null;
        if (certificate is not null)
        {
            CheckCertificate(certificate, options, role, authority, problems);
        }

        return new Loaded(certificate, authority);
    }

    private static X509Certificate2Collection? LoadAuthority(string path, List<string> problems)
    {
        if (!IsRegularFile(AuthorityKey, path, problems))
        {
            return null;
        }

        if (!File.Exists(path))
        {
            problems.Add($"{AuthorityKey} is '{path}': the file does not exist. Fix: give the path of the CA's PEM "
                + "certificate (a mounted Secret's file, or ca.pem from `grid tls create-dev-certs`).");
            return null;
        }

        var authority = new X509Certificate2Collection();
        try
        {
            string text = File.ReadAllText(path);
            if (text.Contains("-----BEGIN", StringComparison.Ordinal))
            {
                authority.ImportFromPem(text);
            }
            else
            {
                authority.Add(X509CertificateLoader.LoadCertificateFromFile(path)); // one DER certificate
            }
        }
        catch (CryptographicException e)
        {
            problems.Add($"{AuthorityKey} is '{path}': the file does not parse as a PEM (or DER) certificate ({e.Message.Trim()}). "
                + "Fix: give the CA's certificate, the block between -----BEGIN CERTIFICATE----- and -----END CERTIFICATE-----.");
            return null;
        }

        if (authority.Count == 0)
        {
            problems.Add($"{AuthorityKey} is '{path}': the file holds no certificate (no -----BEGIN CERTIFICATE----- block). "
                + "Fix: give the CA's PEM certificate, not its key or another file.");
            return null;
        }

        foreach (var ca in authority)
        {
            if (ca.NotAfter.ToUniversalTime() < DateTime.UtcNow)
            {
                problems.Add($"{AuthorityKey} is '{path}': the CA certificate '{ca.Subject}' expired on "
                    + $"{ca.NotAfter.ToUniversalTime():u}. Fix: create a new CA, issue new certificates from it and roll them "
                    + "out (docs/operations.md, \"Mutual TLS\", rotation).");
            }
        }

        return authority;
    }

    private static X509Certificate2? LoadCertificate(GridTlsOptions options, List<string> problems)
    {
        string path = options.Certificate!;
        if (!IsRegularFile(CertificateKey, path, problems)
            || (options.Key is { } keyFile && !string.IsNullOrWhiteSpace(keyFile) && !IsRegularFile(KeyKey, keyFile, problems)))
        {
            return null;
        }

        if (!File.Exists(path))
        {
            problems.Add($"{CertificateKey} is '{path}': the file does not exist. Fix: give the path of this process's "
                + "certificate (PEM or PFX; silo.pem or client.pem from `grid tls create-dev-certs`).");
            return null;
        }

        if (options.Key is { } keyPath && !string.IsNullOrWhiteSpace(keyPath) && !File.Exists(keyPath))
        {
            problems.Add($"{KeyKey} is '{keyPath}': the file does not exist. Fix: give the path of the certificate's "
                + "PEM private key.");
            return null;
        }

        byte[] bytes = File.ReadAllBytes(path);
        bool pem = Encoding.ASCII.GetString(bytes, 0, Math.Min(bytes.Length, 4096)).Contains("-----BEGIN", StringComparison.Ordinal);
        string? key = string.IsNullOrWhiteSpace(options.Key) ? null : options.Key;
        try
        {
            if (!pem)
            {
                if (key is not null)
                {
                    problems.Add($"{KeyKey} is '{key}', but {CertificateKey} '{path}' is not PEM (a PFX carries its own "
                        + "key). Fix: unset the key for a PFX, or give the PEM certificate.");
                    return null;
                }

                var pfx = X509CertificateLoader.LoadPkcs12(bytes, options.Password);
                if (!pfx.HasPrivateKey)
                {
                    problems.Add($"{CertificateKey} is '{path}': the PFX holds no private key. Fix: export it with its key.");
                    pfx.Dispose();
                    return null;
                }

                return pfx;
            }

            string keyText = File.ReadAllText(key ?? path);
            if (!keyText.Contains("PRIVATE KEY-----", StringComparison.Ordinal))
            {
                problems.Add(key is null
                    ? $"{KeyKey} is not set and {CertificateKey} '{path}' holds no private key. Fix: give the "
                        + "certificate's key file with --tls-key (key Grid:Tls:Key), or a PFX holding both."
                    : $"{KeyKey} is '{key}': the file holds no PEM private key (no -----BEGIN ... PRIVATE KEY----- block). "
                        + "Fix: give the key that belongs to the certificate.");
                return null;
            }

            using var fromPem = options.Password is null
                ? X509Certificate2.CreateFromPemFile(path, key)
                : X509Certificate2.CreateFromEncryptedPemFile(path, options.Password, key);
            // A PKCS#12 round trip gives the key a form SslStream uses on every platform.
            return X509CertificateLoader.LoadPkcs12(fromPem.Export(X509ContentType.Pkcs12), null);
        }
        catch (Exception e) when (e is CryptographicException or ArgumentException)
        {
            // ArgumentException: a key of the right kind that belongs to another certificate.
            problems.Add(pem
                ? $"{CertificateKey} is '{path}' with key {(key is null ? "in the same file" : $"'{key}'")}: they do not load "
                    + $"as a certificate and its private key ({e.Message.Trim()}). Fix: give the key that belongs to this "
                    + $"certificate; an encrypted key needs {PasswordKey}."
                : $"{CertificateKey} is '{path}': the file is neither PEM nor a PFX that opens with the given password "
                    + $"({e.Message.Trim()}). Fix: give a PEM certificate with --tls-key, or a PFX and {PasswordKey}.");
            return null;
        }
    }

    private static void CheckCertificate(X509Certificate2 certificate, GridTlsOptions options, GridTlsRole role,
        X509Certificate2Collection? authority, List<string> problems)
    {
        string path = options.Certificate!;
        var now = DateTime.UtcNow;
        if (certificate.NotAfter.ToUniversalTime() < now)
        {
            problems.Add($"{CertificateKey} is '{path}': the certificate '{certificate.Subject}' expired on "
                + $"{certificate.NotAfter.ToUniversalTime():u}. Fix: issue a new one from the cluster's CA and replace the "
                + "file (docs/operations.md, \"Mutual TLS\", rotation).");
            return;
        }

        if (certificate.NotBefore.ToUniversalTime() > now)
        {
            problems.Add($"{CertificateKey} is '{path}': the certificate '{certificate.Subject}' is not valid before "
                + $"{certificate.NotBefore.ToUniversalTime():u}. Fix: check this machine's clock, or wait until then.");
            return;
        }

        string[] usages = role == GridTlsRole.Silo ? [ServerAuthentication, ClientAuthentication] : [ClientAuthentication];
        var missing = usages.Where(usage => !AllowsUsage(certificate, usage)).ToList();
        if (missing.Count > 0)
        {
            problems.Add($"{CertificateKey} is '{path}': the certificate '{certificate.Subject}' lacks the extended key usage "
                + $"{string.Join(" and ", missing.Select(UsageName))}, which a {role.ToString().ToLowerInvariant()} needs. Fix: "
                + (role == GridTlsRole.Silo
                    ? "issue the silo a certificate for both server and client authentication (silo.pem from `grid tls create-dev-certs`)."
                    : "issue the client a certificate for client authentication (client.pem from `grid tls create-dev-certs`)."));
        }

        if (authority is not null && ChainProblem(certificate, authority, null, []) is { } problem)
        {
            problems.Add($"{CertificateKey} is '{path}': the certificate '{certificate.Subject}' (issuer '{certificate.Issuer}') "
                + $"does not chain to the CA in {AuthorityKey} '{options.CertificateAuthority}' ({Subjects(authority)}): "
                + $"{problem}. Peers would refuse it. Fix: give the CA that issued it, or a certificate that CA signed.");
        }
    }

    /// <summary>
    /// False, with the problem added, when <paramref name="path"/> is no file to read (a FIFO, device, socket, folder
    /// or a path with a control character): a FIFO opened for reading would block the silo's start for ever.
    /// </summary>
    private static bool IsRegularFile(string key, string path, List<string> problems)
    {
        if (Core.Files.InputFile.Refusal(path) is not { } why)
        {
            return true;
        }

        problems.Add($"{key} is '{Core.Settings.InvalidSettingException.Format(path)[1..^1]}': it is {why}. Fix: give the path of a PEM or PFX file.");
        return false;
    }

    private sealed class Loaded(X509Certificate2? certificate, X509Certificate2Collection? authority) : IDisposable
    {
        public X509Certificate2? Certificate { get; } = certificate;

        public X509Certificate2Collection? Authority { get; } = authority;

        public void Dispose()
        {
            Certificate?.Dispose();
            foreach (var ca in Authority ?? [])
            {
                ca.Dispose();
            }
        }
    }

    private sealed class Handshake
    {
        public bool Completed { get; private set; }

        public string? Refusal { get; private set; }

        public void Complete() => Completed = true;

        public void Refuse(string reason) => Refusal = reason;
    }
}

/// <summary>Grid's mutual TLS on silo and client builders.</summary>
public static class GridTlsBuilderExtensions
{
    /// <summary>Mutual TLS for this silo when <paramref name="options"/> turns it on; nothing otherwise.</summary>
    public static ISiloBuilder AddGridTls(this ISiloBuilder silo, GridTlsOptions? options)
    {
        ArgumentNullException.ThrowIfNull(silo);
        if (options is { Enabled: true })
        {
            GridTls.Load(options, GridTlsRole.Silo).ApplyTo(silo);
        }

        return silo;
    }

    /// <summary>Mutual TLS for this client when <paramref name="options"/> turns it on; nothing otherwise.</summary>
    public static IClientBuilder AddGridTls(this IClientBuilder client, GridTlsOptions? options)
    {
        ArgumentNullException.ThrowIfNull(client);
        if (options is { Enabled: true })
        {
            GridTls.Load(options, GridTlsRole.Client).ApplyTo(client);
        }

        return client;
    }
}
