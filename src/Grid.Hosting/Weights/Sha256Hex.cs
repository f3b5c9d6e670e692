using System.Security.Cryptography;
using Grid.Core;

namespace Grid.Hosting.Weights;

/// <summary>sha256 as lowercase hex, the form <see cref="WeightReference.Sha256"/> uses.</summary>
internal static class Sha256Hex
{
    public static string Of(ReadOnlySpan<byte> bytes) => Convert.ToHexStringLower(SHA256.HashData(bytes));

    public static string Of(IncrementalHash hash) => Convert.ToHexStringLower(hash.GetHashAndReset());
}
