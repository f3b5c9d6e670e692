using System.Globalization;
using Grid.Hosting.Placement;

namespace Grid.Hosting.Weights;

/// <summary>Object names shared by the stores: <c>runId/v000000000042-guid.bin</c> and <c>runId/latest.json</c>.</summary>
internal static class WeightNames
{
    public static string NewObjectName(string runId, long version) =>
        $"{runId}/v{version.ToString("D12", CultureInfo.InvariantCulture)}-{Guid.NewGuid():N}.bin";

    /// <summary>An object of another kind than weights (e.g. optimizer state): <c>runId/kind/v…-guid.bin</c>.</summary>
    public static string NewObjectName(string runId, long version, string kind) =>
        $"{runId}/{kind}/v{version.ToString("D12", CultureInfo.InvariantCulture)}-{Guid.NewGuid():N}.bin";

    public static string PointerName(string runId) => $"{runId}/{LatestPointer.FileName}";

    /// <summary>A named record of the run: <c>runId/records/name</c>.</summary>
    public static string RecordName(string runId, string name) => $"{runId}/records/{name}";

    /// <summary>Object kinds and record names: lowercase letters, digits, '.', '-' (no path separators).</summary>
    public static void ValidateName(string name, string what)
    {
        ArgumentException.ThrowIfNullOrEmpty(name, what);
        if (name.Length > 100 || name[0] == '.' || name.Any(c => !(char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c is '.' or '-')))
        {
            throw new ArgumentException(
                $"{what} '{name}' must be 1-100 lowercase letters, digits, '.' or '-', not starting with '.'.", what);
        }
    }

    public static void Validate(string runId, long version)
    {
        LearnerKey.ValidateRunId(runId);
        if (version < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(version), version, "A policy version is 0 or more.");
        }
    }
}
