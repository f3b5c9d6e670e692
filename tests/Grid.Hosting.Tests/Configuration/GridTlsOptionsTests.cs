using System.Security.Cryptography.X509Certificates;
using Grid.Hosting.Configuration;

namespace Grid.Hosting.Tests.Configuration;

/// <summary>
/// Mutual TLS settings are refused at start when they cannot work, with the key, the file, the problem and the fix;
/// nothing set means TLS is off, as for the embedded grid and every existing command.
/// </summary>
public sealed class GridTlsOptionsTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("grid-tls-").FullName;

    public GridTlsOptionsTests()
    {
        GridDevCertificates.WriteSet(Path.Combine(_folder, "a"), "Grid test CA", TimeSpan.FromDays(1));
        GridDevCertificates.WriteSet(Path.Combine(_folder, "b"), "Other test CA", TimeSpan.FromDays(1));
    }

    private string A(string file) => Path.Combine(_folder, "a", file);

    private string B(string file) => Path.Combine(_folder, "b", file);

    private GridTlsOptions Silo => new() { Certificate = A("silo.pem"), Key = A("silo.key"), CertificateAuthority = A("ca.pem") };

    [Fact]
    public void Tls_is_off_unless_a_setting_is_given()
    {
        Assert.False(new GridSiloOptions().Tls.Enabled);
        Assert.False(new GridClientOptions().Tls.Enabled);
        Assert.Empty(GridTls.Problems(new GridTlsOptions(), GridTlsRole.Silo));
        Assert.Contains("Tls = off", new GridSiloOptions().ToString());
        new GridSiloOptions().Validate();
    }

    [Fact]
    public void Dev_certificates_load_for_silos_and_clients_and_a_pfx_with_its_password_too()
    {
        Assert.Empty(GridTls.Problems(Silo, GridTlsRole.Silo));
        var client = new GridTlsOptions { Certificate = A("client.pem"), Key = A("client.key"), CertificateAuthority = A("ca.pem") };
        Assert.Empty(GridTls.Problems(client, GridTlsRole.Client));
        new GridSiloOptions { Tls = Silo }.Validate();
        new GridClientOptions { Tls = client }.Validate();

        using (var pem = X509Certificate2.CreateFromPemFile(A("silo.pem"), A("silo.key")))
        {
            File.WriteAllBytes(A("silo.pfx"), pem.Export(X509ContentType.Pkcs12, "s3cret"));
        }

        var pfx = new GridTlsOptions { Certificate = A("silo.pfx"), Password = "s3cret", CertificateAuthority = A("ca.pem") };
        Assert.Empty(GridTls.Problems(pfx, GridTlsRole.Silo));
        Assert.DoesNotContain("s3cret", pfx.ToString());
        string wrong = Assert.Single(GridTls.Problems(pfx with { Password = "wrong" }, GridTlsRole.Silo));
        Assert.Contains("Grid:Tls:Certificate", wrong);
        Assert.Contains("silo.pfx", wrong);
        Assert.Contains("Grid:Tls:Password", wrong);
    }

    [Fact]
    public void A_certificate_without_its_key_is_refused_naming_the_key_setting_and_the_file()
    {
        string problem = Assert.Single(GridTls.Problems(Silo with { Key = null }, GridTlsRole.Silo));

        Assert.Contains("Grid:Tls:Key (--tls-key) is not set", problem);
        Assert.Contains(A("silo.pem"), problem);
        Assert.Contains("holds no private key", problem);
        Assert.Contains("Fix:", problem);
    }

    [Fact]
    public void Partial_settings_name_each_missing_setting()
    {
        var problems = GridTls.Problems(new GridTlsOptions { Key = A("silo.key") }, GridTlsRole.Silo);

        Assert.Contains(problems, p => p.StartsWith("Grid:Tls:Certificate (--tls-cert) is not set", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.StartsWith("Grid:Tls:CertificateAuthority (--tls-ca) is not set", StringComparison.Ordinal));
    }

    [Fact]
    public void Missing_files_are_named_with_their_setting()
    {
        var problems = GridTls.Problems(Silo with { Certificate = A("nope.pem"), CertificateAuthority = A("nope-ca.pem") },
            GridTlsRole.Silo);

        Assert.Contains(problems, p => p.Contains("Grid:Tls:Certificate (--tls-cert) is '" + A("nope.pem") + "': the file does not exist", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.Contains("Grid:Tls:CertificateAuthority (--tls-ca) is '" + A("nope-ca.pem") + "': the file does not exist", StringComparison.Ordinal));
    }

    [Fact]
    public void A_ca_file_that_does_not_parse_is_refused()
    {
        File.WriteAllText(A("garbage.pem"), "-----BEGIN CERTIFICATE-----\nnot base64 at all!\n-----END CERTIFICATE-----\n");
        File.WriteAllText(A("empty.pem"), "just some text\n");

        string garbage = Assert.Single(GridTls.Problems(Silo with { CertificateAuthority = A("garbage.pem") }, GridTlsRole.Silo));
        string key = Assert.Single(GridTls.Problems(Silo with { CertificateAuthority = A("ca.key") }, GridTlsRole.Silo));

        Assert.Contains("Grid:Tls:CertificateAuthority (--tls-ca) is '" + A("garbage.pem") + "'", garbage);
        Assert.Matches("does not parse|holds no certificate", garbage);
        Assert.Contains("holds no certificate", key); // the CA's key given instead of its certificate
        Assert.NotEmpty(GridTls.Problems(Silo with { CertificateAuthority = A("empty.pem") }, GridTlsRole.Silo));
    }

    [Fact]
    public void An_expired_certificate_is_refused_with_its_expiry_date()
    {
        using var ca = X509Certificate2.CreateFromPemFile(A("ca.pem"), A("ca.key"));
        var now = DateTimeOffset.UtcNow;
        using (var expired = GridDevCertificates.Issue(ca, "old-silo", GridTlsRole.Silo, now.AddMinutes(-5), now.AddMinutes(-1)))
        {
            GridDevCertificates.WritePem(expired, A("old.pem"), A("old.key"));
        }

        string problem = Assert.Single(GridTls.Problems(Silo with { Certificate = A("old.pem"), Key = A("old.key") }, GridTlsRole.Silo));

        Assert.Contains("Grid:Tls:Certificate (--tls-cert) is '" + A("old.pem") + "'", problem);
        Assert.Contains("'CN=old-silo' expired on", problem);
        Assert.Contains("rotation", problem);
    }

    [Fact]
    public void A_key_that_is_not_the_certificates_and_a_certificate_of_another_ca_are_refused()
    {
        string mismatch = Assert.Single(GridTls.Problems(Silo with { Key = A("client.key") }, GridTlsRole.Silo));
        Assert.Contains("do not load as a certificate and its private key", mismatch);

        string foreign = Assert.Single(GridTls.Problems(Silo with { Certificate = B("silo.pem"), Key = B("silo.key") }, GridTlsRole.Silo));
        Assert.Contains("does not chain to the CA in Grid:Tls:CertificateAuthority", foreign);
        Assert.Contains("'CN=Other test CA'", foreign);
    }

    [Fact]
    public void A_client_certificate_cannot_serve_as_a_silos()
    {
        string problem = Assert.Single(GridTls.Problems(
            Silo with { Certificate = A("client.pem"), Key = A("client.key") }, GridTlsRole.Silo));

        Assert.Contains("lacks the extended key usage server authentication", problem);
    }

    [Fact]
    public void Silo_validation_lists_tls_problems_with_the_others()
    {
        var options = new GridSiloOptions { GpuDevices = -1, Tls = new GridTlsOptions { Certificate = A("silo.pem") } };

        var error = Assert.Throws<GridConfigurationException>(() => options.Validate());

        Assert.Contains("GpuDevices is -1", error.Message);
        Assert.Contains("Grid:Tls:Key (--tls-key) is not set", error.Message);
        Assert.Contains("Grid:Tls:CertificateAuthority (--tls-ca) is not set", error.Message);
        Assert.Throws<GridConfigurationException>(() => GridTls.Load(options.Tls, GridTlsRole.Silo));
    }

    [Fact]
    public void Peers_are_checked_against_the_configured_ca_only()
    {
        var tls = GridTls.Load(Silo, GridTlsRole.Silo);
        using var ours = X509CertificateLoader.LoadCertificateFromFile(A("client.pem"));
        using var theirs = X509CertificateLoader.LoadCertificateFromFile(B("silo.pem"));

        Assert.Null(tls.Refusal(ours, null, GridTls.ClientAuthentication));
        Assert.Contains("lacks server authentication", tls.Refusal(ours, null, GridTls.ServerAuthentication, GridTls.ClientAuthentication)!);
        Assert.Contains("does not chain to the trusted CA", tls.Refusal(theirs, null, GridTls.ClientAuthentication)!);
    }

    public void Dispose() => Directory.Delete(_folder, recursive: true);
}
