using Grid.Core;
using Grid.Core.Settings;

namespace Grid.Contracts.Learning;

/// <summary>
/// The run's settings; their <c>init_checkpoint</c> (if any) holds the initial weights. A resumed run (its learner
/// lost, say in a full cluster restart) also gives <paramref name="InitialWeights"/> (version 0, the reference policy)
/// and <paramref name="CurrentWeights"/> (the newest version the controller recorded; the next step is its version): the
/// learner restores that version's checkpoint (weights and optimizer state) from the weight store.
/// </summary>
[GenerateSerializer]
[Alias("grid.LearnerSetup")]
[Immutable]
public sealed record LearnerSetup(
    [property: Id(0)] string RunId,
    [property: Id(4)] RunSettings Settings,
    [property: Id(2)] WeightReference? InitialWeights = null,
    [property: Id(3)] WeightReference? CurrentWeights = null)
{
    /// <summary>The run's published data; the learner reads its train part (the groups' prompts) and its eval part
    /// (validation) through its silo's dataset cache. Null: the built-in tasks or files on this machine.</summary>
    [Id(5)]
    public Runs.RunDataset? Dataset { get; init; }
}
