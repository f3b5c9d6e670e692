using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Grid.Hosting;

/// <summary>
/// A private CA and certificates it signs, for trying mutual TLS out and for tests (<c>grid tls create-dev-certs</c>):
/// ECDSA P-256 keys, a CA, a silo certificate (server and client authentication) and a client certificate (client
/// authentication). Production clusters use certificates from their own CA (cert-manager, a PKI); the files have the
/// same shape.
/// </summary>
public static class GridDevCertificates
{
    /// <summary>The files <see cref="WriteSet"/> writes into its folder.</summary>
    public static readonly IReadOnlyList<string> SetFiles =
        ["ca.pem", "ca.key", "silo.pem", "silo.key", "client.pem", "client.key"];

    /// <summary>A self-signed CA certificate with its key, valid from now for <paramref name="validity"/>.</summary>
    public static X509Certificate2 CreateAuthority(string name, TimeSpan validity)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={name}", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, true, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(
            X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        var now = DateTimeOffset.UtcNow;
        return request.CreateSelfSigned(now.AddMinutes(-5), now + validity);
    }

    /// <summary>
    /// A certificate signed by <paramref name="authority"/> for a silo (server and client authentication) or a client
    /// (client authentication), valid from <paramref name="notBefore"/> to <paramref name="notAfter"/>, naming localhost,
    /// 127.0.0.1 and <paramref name="names"/> (DNS names or IP addresses) as subject alternative names.
    /// </summary>
    public static X509Certificate2 Issue(X509Certificate2 authority, string name, GridTlsRole role, DateTimeOffset notBefore,
        DateTimeOffset notAfter, params string[] names)
    {
        ArgumentNullException.ThrowIfNull(authority);
        // A CA signs nothing outside its own validity.
        notBefore = notBefore < authority.NotBefore ? authority.NotBefore : notBefore;
        notAfter = notAfter > authority.NotAfter ? authority.NotAfter : notAfter;
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={name}", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, true));
        var usages = new OidCollection { new Oid(GridTls.ClientAuthentication) };
        if (role == GridTlsRole.Silo)
        {
            usages.Add(new Oid(GridTls.ServerAuthentication));
        }

        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension(usages, false));
        var alternative = new SubjectAlternativeNameBuilder();
        foreach (string entry in new[] { "localhost", "127.0.0.1" }.Concat(names).Distinct(StringComparer.OrdinalIgnoreCase))
        {
            if (IPAddress.TryParse(entry, out var address))
            {
                alternative.AddIpAddress(address);
            }
            else
            {
                alternative.AddDnsName(entry);
            }
        }

        request.CertificateExtensions.Add(alternative.Build());
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(authority, true, false));
        var serial = RandomNumberGenerator.GetBytes(16);
        serial[0] &= 0x7f; // a positive serial number
        using var issued = request.Create(authority, notBefore, notAfter, serial);
        return issued.CopyWithPrivateKey(key);
    }

    /// <summary>Writes the certificate as PEM to <paramref name="certificatePath"/> and its key (readable by the owner only).</summary>
    public static void WritePem(X509Certificate2 certificate, string certificatePath, string keyPath)
    {
        ArgumentNullException.ThrowIfNull(certificate);
        File.WriteAllText(certificatePath, certificate.ExportCertificatePem() + Environment.NewLine);
        using var key = certificate.GetECDsaPrivateKey()
            ?? throw new ArgumentException($"Certificate '{certificate.Subject}' has no ECDSA private key.", nameof(certificate));
        if (File.Exists(keyPath))
        {
            File.Delete(keyPath);
        }

        using (var stream = OperatingSystem.IsWindows()
            ? new FileStream(keyPath, FileMode.CreateNew, FileAccess.Write)
            : new FileStream(keyPath, new FileStreamOptions
            {
                Mode = FileMode.CreateNew,
                Access = FileAccess.Write,
                UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
            }))
        using (var writer = new StreamWriter(stream))
        {
            writer.Write(key.ExportPkcs8PrivateKeyPem() + Environment.NewLine);
        }
    }

    /// <summary>
    /// A CA and a silo and a client certificate it signed, as PEM files in <paramref name="folder"/> (see
    /// <see cref="SetFiles"/>); the silo certificate also names <paramref name="names"/>.
    /// </summary>
    public static void WriteSet(string folder, string caName, TimeSpan validity, params string[] names)
    {
        Directory.CreateDirectory(folder);
        using var authority = CreateAuthority(caName, validity);
        WritePem(authority, Path.Combine(folder, "ca.pem"), Path.Combine(folder, "ca.key"));
        var now = DateTimeOffset.UtcNow;
        using (var silo = Issue(authority, "grid-silo", GridTlsRole.Silo, now.AddMinutes(-5), now + validity, names))
        {
            WritePem(silo, Path.Combine(folder, "silo.pem"), Path.Combine(folder, "silo.key"));
        }

        using var client = Issue(authority, "grid-client", GridTlsRole.Client, now.AddMinutes(-5), now + validity);
        WritePem(client, Path.Combine(folder, "client.pem"), Path.Combine(folder, "client.key"));
    }
}
