using Grid.Core.Files;
using Grid.Core.Settings;

namespace Grid.Cli.Commands;

/// <summary>The RUN argument of status and resume, refused before any cluster is contacted when it cannot be a run id.</summary>
internal static class RunIds
{
    /// <summary>Run ids are run folder names (at most 64 characters of name plus the time) or --run-id values.</summary>
    public const int MaxLength = 256;

    public static string Require(string? run, string argument = "run")
    {
        if (string.IsNullOrWhiteSpace(run) || run.Length > MaxLength || run.Any(char.IsControl))
        {
            throw new InvalidSettingException(argument, run,
                $"a run id as grid submit printed it, or a run folder (non-empty, at most {MaxLength} characters, no control characters)");
        }

        // A file, FIFO or device there is neither: say so now, not after the cluster's connect timeout.
        if (InputFile.KindOf(run) is not (FileKind.Missing or FileKind.Directory or FileKind.Unknown) and var kind)
        {
            throw new InvalidSettingException(argument, run,
                $"a run id or a run folder, but {Path.GetFullPath(run)} is {(kind == FileKind.Regular ? "a file" : InputFile.Refusal(run))}");
        }

        return run;
    }

    /// <summary>
    /// Refuses a path (it names a folder: it has a '/' and exists) where a cluster run id is meant, before a cluster is
    /// contacted: the cluster would only say, after its connect timeout, that it knows no such run. A bare name is left
    /// alone: run ids are often run folder names.
    /// </summary>
    public static void RefuseFolder(string run, string command, string? why = null)
    {
        if (run.IndexOfAny(['/', Path.DirectorySeparatorChar]) >= 0 && Directory.Exists(run))
        {
            string name = Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(run)));
            throw new InvalidSettingException("run", run,
                $"a run id, not a folder{why}: grid {command} takes the id grid submit printed (by default the run folder's "
                + $"name, here {name})");
        }
    }
}
