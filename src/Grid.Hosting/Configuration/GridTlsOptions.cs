namespace Grid.Hosting.Configuration;

/// <summary>
/// Mutual TLS for silo-to-silo and client-to-gateway traffic, from certificate files (a Kubernetes Secret mounts
/// files, so files are the interface). Off when nothing is set. Keys <c>Grid:Tls:Certificate</c>, <c>Grid:Tls:Key</c>,
/// <c>Grid:Tls:CertificateAuthority</c> and <c>Grid:Tls:Password</c> (environment <c>GRID__TLS__PASSWORD</c>, never a
/// flag). <see cref="GridTls"/> loads and checks the files; <see cref="ToString"/> never prints the password.
/// </summary>
public sealed record GridTlsOptions
{
    /// <summary>This process's certificate: a PEM file (its key in <see cref="Key"/> or in the same file) or a PFX.</summary>
    public string? Certificate { get; init; }

    /// <summary>The PEM private key of <see cref="Certificate"/>; leave unset for a PFX or a PEM holding its key.</summary>
    public string? Key { get; init; }

    /// <summary>PEM file of the CA certificate(s) a peer's certificate must chain to (not the system store).</summary>
    public string? CertificateAuthority { get; init; }

    /// <summary>Password of a PFX or of an encrypted PEM key; null for none.</summary>
    public string? Password { get; init; }

    /// <summary>Any TLS setting is given: TLS is on, and every setting it needs must then be right.</summary>
    public bool Enabled =>
        !string.IsNullOrWhiteSpace(Certificate) || !string.IsNullOrWhiteSpace(Key)
        || !string.IsNullOrWhiteSpace(CertificateAuthority) || !string.IsNullOrEmpty(Password);

    /// <summary>Paths only, the password redacted: safe for logs.</summary>
    public override string ToString() => Enabled
        ? $"mutual TLS (certificate {Certificate ?? "<none>"}, key {Key ?? "in the certificate file"}, "
            + $"CA {CertificateAuthority ?? "<none>"}, password {GridSiloOptions.Redact(Password)})"
        : "off";
}
