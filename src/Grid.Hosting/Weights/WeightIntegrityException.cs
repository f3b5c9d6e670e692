using Grid.Core;

namespace Grid.Hosting.Weights;

/// <summary>Stored bytes do not hash to the sha256 their reference promises: the object was changed or damaged.</summary>
public sealed class WeightIntegrityException(Uri uri, string expectedSha256, string actualSha256)
    : Exception(
        $"Weights at {uri} have sha256 {actualSha256} but the reference expects {expectedSha256}; the object was "
        + "modified or damaged after it was published. Re-publish it, or resume from an earlier checkpoint.")
{
    /// <summary>The object that failed the check.</summary>
    public Uri Uri { get; } = uri;

    /// <summary>The hash recorded at publish time.</summary>
    public string ExpectedSha256 { get; } = expectedSha256;

    /// <summary>The hash of the bytes read now.</summary>
    public string ActualSha256 { get; } = actualSha256;

    /// <summary>Returns <paramref name="bytes"/> when they hash to the reference's sha256, else throws.</summary>
    public static byte[] Verified(WeightReference reference, byte[] bytes)
    {
        string actual = Sha256Hex.Of(bytes);
        if (!string.Equals(actual, reference.Sha256, StringComparison.OrdinalIgnoreCase))
        {
            throw new WeightIntegrityException(reference.Uri, reference.Sha256, actual);
        }

        return bytes;
    }
}
