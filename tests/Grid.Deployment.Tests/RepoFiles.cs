using System.Diagnostics;

namespace Grid.Deployment.Tests;

/// <summary>The repository's files and the tools the deployment tests run (kubectl, promtool).</summary>
internal static class RepoFiles
{
    public static string Root { get; } = FindRoot();

    public static string PathOf(string relative) => Path.Combine(Root, relative);

    public static string Read(string relative) => File.ReadAllText(PathOf(relative));

    /// <summary>The full path of <paramref name="tool"/> on PATH, or null.</summary>
    public static string? OnPath(string tool) => (Environment.GetEnvironmentVariable("PATH") ?? "")
        .Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
        .Select(folder => Path.Combine(folder, tool))
        .FirstOrDefault(File.Exists);

    /// <summary>
    /// Whether git ignores <paramref name="relative"/> (<c>git check-ignore</c>; without git or a work tree, the
    /// repository's .gitignore read for a pattern that covers the file's folder).
    /// </summary>
    public static bool IsIgnored(string relative)
    {
        string? git = OnPath("git");
        if (git is not null && Path.Exists(PathOf(".git")))
        {
            var (exit, _, errors) = Run(git, ["check-ignore", "--no-index", "-q", relative], TimeSpan.FromSeconds(30));
            return exit switch
            {
                0 => true,
                1 => false,
                _ => throw new InvalidOperationException($"git check-ignore {relative} exited {exit}: {errors}"),
            };
        }

        string folder = Path.GetDirectoryName(relative)!.Replace('\\', '/');
        string name = Path.GetFileName(relative);
        var lines = Read(".gitignore").Split('\n').Select(l => l.Trim()).ToList();
        return !lines.Contains($"!{relative}") && (lines.Contains($"{folder}/*") || lines.Contains($"{folder}/") || lines.Contains(name));
    }

    /// <summary>The repository's files git would commit (tracked, or new and not ignored); without git, every file under infra/.</summary>
    public static IReadOnlyList<string> Committable()
    {
        string? git = OnPath("git");
        if (git is not null && Path.Exists(PathOf(".git")))
        {
            var (exit, output, errors) = Run(git, ["ls-files", "--cached", "--others", "--exclude-standard", "-z"], TimeSpan.FromMinutes(1));
            if (exit != 0)
            {
                throw new InvalidOperationException($"git ls-files exited {exit}: {errors}");
            }

            return output.Split('\0', StringSplitOptions.RemoveEmptyEntries).Where(f => File.Exists(PathOf(f))).ToList();
        }

        string[] ignored = ["/node_modules/", "infra/compose/certs/", "infra/azurite/data/"];
        return Directory.EnumerateFiles(PathOf("infra"), "*", SearchOption.AllDirectories)
            .Select(f => Path.GetRelativePath(Root, f).Replace('\\', '/'))
            .Where(f => !ignored.Any(f.Contains) || f.EndsWith("/certs/README.md", StringComparison.Ordinal))
            .ToList();
    }

    public static (int Exit, string Output, string Errors) Run(string executable, IEnumerable<string> arguments, TimeSpan timeout)
    {
        var start = new ProcessStartInfo(executable)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = Root,
        };
        foreach (string argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        // A test host started by `dotnet test` carries MSBuild's variables; a child `dotnet msbuild` must not inherit them.
        foreach (string key in start.Environment.Keys.Where(k => k.StartsWith("MSBuild", StringComparison.OrdinalIgnoreCase)).ToArray())
        {
            start.Environment.Remove(key);
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException($"Could not start {executable}.");
        var errors = process.StandardError.ReadToEndAsync();
        var output = process.StandardOutput.ReadToEndAsync();
        if (!process.WaitForExit(timeout))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{executable} {string.Join(' ', start.ArgumentList)} did not finish in {timeout.TotalSeconds} s.");
        }

        return (process.ExitCode, output.Result, errors.Result);
    }

    private static string FindRoot()
    {
        var folder = new DirectoryInfo(AppContext.BaseDirectory);
        while (folder is not null && !File.Exists(Path.Combine(folder.FullName, "Grid.sln")))
        {
            folder = folder.Parent;
        }

        return folder?.FullName ?? throw new InvalidOperationException($"No Grid.sln above {AppContext.BaseDirectory}.");
    }
}
