using Grid.Core.Settings;

namespace Grid.Cli.Commands;

/// <summary>The RUN argument of status and resume, refused before any cluster is contacted when it cannot be a run id.</summary>
internal static class RunIds
{
    /// <summary>Run ids are run folder names (at most 64 characters of name plus the time) or --run-id values.</summary>
    public const int MaxLength = 256;

    public static string Require(string? run, string argument = "run") =>
        !string.IsNullOrWhiteSpace(run) && run.Length <= MaxLength && !run.Any(char.IsControl)
            ? run
            : throw new InvalidSettingException(argument, run,
                $"a run id as grid submit printed it, or a run folder (non-empty, at most {MaxLength} characters, no control characters)");
}
