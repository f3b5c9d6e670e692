using Grid.Hosting.Placement;

namespace Grid.Hosting.Configuration;

/// <summary>
/// What a silo does (<c>grid silo --role</c>, key <c>Grid:Role</c>), published as silo metadata
/// <see cref="GridSiloMetadata.Role"/> and enforced by placement: prompt groups never go to a learner-only silo
/// (<see cref="RolloutPlacementFilterDirector"/>), learners never to a rollout-only one
/// (<see cref="LearnerPlacementFilterDirector"/>).
/// </summary>
public enum GridSiloRole
{
    /// <summary><c>both</c>: prompt groups, and learners when the silo declares a GPU or accepts CPU learners (the default).</summary>
    Both,

    /// <summary><c>rollout</c>: prompt groups (generation and scoring); never a learner, even with a GPU.</summary>
    Rollout,

    /// <summary><c>learner</c>: learners only; never a prompt group. Needs a GPU or <c>--allow-cpu-learner</c>.</summary>
    Learner,
}

/// <summary>The spellings of <see cref="GridSiloRole"/> on the command line, in configuration and in silo metadata.</summary>
public static class GridSiloRoles
{
    /// <summary>Every allowed spelling, for messages.</summary>
    public const string Allowed = "rollout, learner or both";

    /// <summary>The spelling of <paramref name="role"/>: rollout, learner or both.</summary>
    public static string Name(GridSiloRole role) => role switch
    {
        GridSiloRole.Both => "both",
        GridSiloRole.Rollout => "rollout",
        GridSiloRole.Learner => "learner",
        _ => ((int)role).ToString(System.Globalization.CultureInfo.InvariantCulture),
    };

    /// <summary>Parses a role name (any case, surrounding blanks ignored), or null when it is none of them.</summary>
    public static GridSiloRole? TryParse(string? value) => value?.Trim().ToLowerInvariant() switch
    {
        "both" => GridSiloRole.Both,
        "rollout" => GridSiloRole.Rollout,
        "learner" => GridSiloRole.Learner,
        _ => null,
    };

    /// <summary>Parses a role, or throws a <see cref="GridConfigurationException"/> naming <paramref name="source"/>,
    /// the value and the allowed ones.</summary>
    /// <param name="source">Where the value came from, e.g. <c>--role</c> or <c>Grid:Role</c>.</param>
    public static GridSiloRole Parse(string? value, string source) => TryParse(value)
        ?? throw new GridConfigurationException(
            $"{source} is '{value}'; use {Allowed} (rollout: prompt groups only, learner: learners only, both: the "
            + "default, either).");

    /// <summary>
    /// The role a silo published; a silo without the key (or with a value this version does not know) counts as
    /// <see cref="GridSiloRole.Both"/>, which is what every silo did before roles existed.
    /// </summary>
    public static GridSiloRole Of(IReadOnlyDictionary<string, string> metadata) =>
        metadata.TryGetValue(GridSiloMetadata.Role, out var value) && TryParse(value) is { } role ? role : GridSiloRole.Both;

    /// <summary>True when a silo of this role may host prompt groups.</summary>
    public static bool TakesPromptGroups(GridSiloRole role) => role != GridSiloRole.Learner;

    /// <summary>True when a silo of this role may host a learner (if it also has the compute, see <see cref="LearnerPlacementFilterDirector"/>).</summary>
    public static bool TakesLearners(GridSiloRole role) => role != GridSiloRole.Rollout;
}
