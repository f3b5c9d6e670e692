using System.Text.RegularExpressions;

namespace Grid.Deployment.Tests;

/// <summary>
/// Mutual TLS is on in the compose file and the Kubernetes manifests, but its private keys never enter the
/// repository: compose creates them in a git-ignored folder, Kubernetes reads them from a Secret the operator creates.
/// </summary>
public sealed partial class KeyMaterialTests
{
    [Fact]
    public void No_private_key_is_in_the_repository()
    {
        var files = RepoFiles.Committable();
        Assert.Contains(files, f => f.StartsWith("infra/", StringComparison.Ordinal));

        var offending = files
            .Where(f => new FileInfo(RepoFiles.PathOf(f)).Length < 4 * 1024 * 1024)
            .Where(f => PrivateKey().IsMatch(File.ReadAllText(RepoFiles.PathOf(f))))
            .ToList();

        Assert.True(offending.Count == 0, "private keys in the repository (move them to infra/compose/certs or a Secret, "
            + $"and rotate them: they are disclosed): {string.Join(", ", offending)}");
    }

    [Fact]
    public void The_scan_recognises_the_keys_grid_writes()
    {
        using var key = System.Security.Cryptography.ECDsa.Create();
        Assert.Matches(PrivateKey(), key.ExportPkcs8PrivateKeyPem());
        // Spelt in two parts, so this file does not trip the scan itself.
        Assert.Matches(PrivateKey(), "-----BEGIN RSA " + "PRIVATE KEY-----");
        Assert.Matches(PrivateKey(), "-----BEGIN ENCRYPTED " + "PRIVATE KEY-----");
        Assert.DoesNotMatch(PrivateKey(), "no -----BEGIN ... PRIVATE KEY----- block");
    }

    /// <summary>A PEM private key block of any kind (PKCS#8, encrypted, RSA, EC, OpenSSH).</summary>
    [GeneratedRegex(@"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----")]
    private static partial Regex PrivateKey();
}
