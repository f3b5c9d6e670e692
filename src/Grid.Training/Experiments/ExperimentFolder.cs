namespace Grid.Training.Experiments;

/// <summary>
/// The folder of one study, <c>{parent}/{name}-{utc time}</c>: <c>results.md</c>, <c>experiment.json</c>, the chart,
/// and <c>runs/</c> with every arm's run folder.
/// </summary>
public sealed class ExperimentFolder
{
    public const string ResultsJson = "experiment.json";

    public const string RunsFolder = "runs";

    private ExperimentFolder(string path) => Path = path;

    public string Path { get; }

    public string RunsPath => System.IO.Path.Combine(Path, RunsFolder);

    /// <summary>Creates <c>{parent}/{name}-{utc time}</c> (suffixing -2, -3 ... if taken) and its runs folder.</summary>
    public static ExperimentFolder Create(string parent, string name, DateTimeOffset now)
    {
        ArgumentException.ThrowIfNullOrEmpty(parent);
        ArgumentException.ThrowIfNullOrEmpty(name);
        string stem = System.IO.Path.Combine(parent, $"{name}-{now.UtcDateTime:yyyyMMdd-HHmmss}");
        string path = stem;
        for (int n = 2; Directory.Exists(path); n++)
        {
            path = $"{stem}-{n}";
        }

        var folder = new ExperimentFolder(System.IO.Path.GetFullPath(path));
        Directory.CreateDirectory(folder.RunsPath);
        return folder;
    }

    /// <summary>The command line (after <c>grid experiment</c>) that started the study, kept so that a resume repeats it.</summary>
    public const string CommandFile = "command.json";

    /// <summary>An existing study's folder, to resume it; refused unless it holds <see cref="CommandFile"/>.</summary>
    public static ExperimentFolder Open(string path)
    {
        string full = System.IO.Path.GetFullPath(path);
        if (!File.Exists(System.IO.Path.Combine(full, CommandFile)))
        {
            throw new DirectoryNotFoundException($"'{path}' is not the folder of a grid experiment: it has no {CommandFile}. "
                + "Give the folder grid experiment printed as 'experiment folder:'.");
        }

        return new ExperimentFolder(full);
    }

    /// <summary>A path inside the study's folder as results.md and experiment.json name it: relative, with '/'.</summary>
    public string Relative(string path) => System.IO.Path.GetRelativePath(Path, path).Replace('\\', '/');
}
