using System.Globalization;
using Grid.Hosting.Placement;

namespace Grid.Hosting.Weights;

/// <summary>Object names shared by the stores: <c>runId/v000000000042-guid.bin</c> and <c>runId/latest.json</c>.</summary>
internal static class WeightNames
{
    public static string NewObjectName(string runId, long version) =>
        $"{runId}/v{version.ToString("D12", CultureInfo.InvariantCulture)}-{Guid.NewGuid():N}.bin";

    public static string PointerName(string runId) => $"{runId}/{LatestPointer.FileName}";

    public static void Validate(string runId, long version)
    {
        LearnerKey.ValidateRunId(runId);
        if (version < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(version), version, "A policy version is 0 or more.");
        }
    }
}
