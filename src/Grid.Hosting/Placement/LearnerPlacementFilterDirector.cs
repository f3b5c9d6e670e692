using System.Globalization;
using Grid.Hosting.Configuration;
using Microsoft.Extensions.Options;
using Orleans.Runtime;
using Orleans.Runtime.MembershipService.SiloMetadata;

namespace Grid.Hosting.Placement;

/// <summary>
/// Keeps the silos that may host a learner: GPU silos, and CPU-learner silos when the key says the run allows it, never
/// a rollout-only silo (<see cref="GridSiloRole.Rollout"/>), whatever compute it declares. An empty result fails
/// placement with an explanation (<see cref="SiloMetadataFilterDirector"/>).
/// </summary>
public sealed class LearnerPlacementFilterDirector(
    ISiloMetadataCache siloMetadataCache, ILocalSiloDetails localSilo, IOptions<SiloMetadata> localMetadata)
    : SiloMetadataFilterDirector(siloMetadataCache, localSilo, localMetadata)
{
    protected override bool Admits(GrainId grain, IReadOnlyDictionary<string, string> metadata) =>
        IsEligible(metadata, LearnerKey.AllowsCpuLearner(grain.Key.ToString() ?? ""));

    protected override Exception Refusal(GrainId grain, string activeSilos) =>
        new NoLearnerSiloException(Explain(grain, LearnerKey.AllowsCpuLearner(grain.Key.ToString() ?? ""), activeSilos));

    /// <summary>True when a silo with this metadata may host a learner (of a run that allows CPU or not).</summary>
    public static bool IsEligible(IReadOnlyDictionary<string, string> metadata, bool allowsCpu) =>
        GridSiloRoles.TakesLearners(GridSiloRoles.Of(metadata))
        && (DeclaresGpu(metadata) || (allowsCpu && DeclaresCpuLearner(metadata)));

    private static bool DeclaresGpu(IReadOnlyDictionary<string, string> metadata) =>
        metadata.TryGetValue(GridSiloMetadata.Gpu, out var devices)
        && int.TryParse(devices, NumberStyles.None, CultureInfo.InvariantCulture, out int count)
        && count > 0;

    private static bool DeclaresCpuLearner(IReadOnlyDictionary<string, string> metadata) =>
        metadata.TryGetValue(GridSiloMetadata.CpuLearner, out var allowed)
        && string.Equals(allowed, "true", StringComparison.OrdinalIgnoreCase);

    private static string Explain(GrainId grain, bool allowsCpu, string silos)
    {
        string need = allowsCpu
            ? $"metadata '{GridSiloMetadata.Gpu}' (GPU device count > 0) or '{GridSiloMetadata.CpuLearner}=true'"
            : $"metadata '{GridSiloMetadata.Gpu}' (GPU device count > 0)";
        string fix = allowsCpu
            ? "Start a GPU silo (grid silo --gpu N, i.e. GridSiloOptions.GpuDevices > 0) or a CPU learner silo "
              + "(grid silo --allow-cpu-learner, i.e. GridSiloOptions.AllowCpuLearner = true)."
            : "Start a GPU silo (grid silo --gpu N, i.e. GridSiloOptions.GpuDevices > 0), or let this run train on "
              + $"a CPU learner silo by keying the learner with LearnerKey.Create(runId, allowCpu: true) "
              + $"(suffix '{LearnerKey.CpuOkSuffix}').";
        return $"No silo can host learner {grain}: it needs a silo with {need} whose role is not rollout-only "
            + $"('{GridSiloMetadata.Role}=rollout' never hosts a learner), and no active silo is one. "
            + $"Active silos: {silos}. {fix} The silo's role must be learner or both (--role, Grid:Role).";
    }
}
