using System.Text.RegularExpressions;

namespace Grid.Deployment.Tests;

/// <summary>
/// infra/docker/Dockerfile, checked as text: there is no Docker engine on this machine or in CI (no daemon, no image
/// registry), so the image is never built here. These tests pin its shape: an SDK build stage, a small runtime stage
/// that runs as a non-root user with <c>grid</c> as entrypoint, and the TORCH_BACKEND build argument that selects the
/// CUDA flavour. docs/deployment.md says how to build and check the image where Docker runs.
/// </summary>
public sealed partial class DockerfileTests
{
    private static readonly string[] Lines = Instructions(RepoFiles.Read("infra/docker/Dockerfile"));

    [Fact]
    public void It_builds_with_the_sdk_and_runs_on_the_aspnet_runtime_in_two_stages()
    {
        var stages = Stages();

        Assert.Equal(2, stages.Count);
        Assert.Matches(@"^FROM mcr\.microsoft\.com/dotnet/sdk:\S+ AS build$", stages[0][0]);
        Assert.Matches(@"^FROM mcr\.microsoft\.com/dotnet/aspnet:\S+ AS runtime$", stages[1][0]);
        Assert.Contains(stages[1], l => l.StartsWith("COPY --from=build /app", StringComparison.Ordinal));
        Assert.DoesNotContain(stages[1], l => l.StartsWith("RUN dotnet", StringComparison.Ordinal));
    }

    [Fact]
    public void The_runtime_stage_runs_grid_as_a_non_root_user()
    {
        var runtime = Stages()[^1];
        var users = runtime.Where(l => l.StartsWith("USER ", StringComparison.Ordinal)).ToList();

        Assert.NotEmpty(users);
        string user = users[^1]["USER ".Length..].Trim();
        Assert.DoesNotMatch(@"^(root|0)(:|$)", user);
        Assert.Equal("ENTRYPOINT [\"/app/grid\"]", runtime.Last(l => l.StartsWith("ENTRYPOINT", StringComparison.Ordinal)));
        Assert.StartsWith("CMD [\"silo\"", runtime.Last(l => l.StartsWith("CMD", StringComparison.Ordinal)));
    }

    [Fact]
    public void TORCH_BACKEND_defaults_to_cpu_and_reaches_restore_and_publish()
    {
        var build = Stages()[0];

        Assert.Contains("ARG TORCH_BACKEND=cpu", build);
        Assert.Contains(build, l => l.StartsWith("RUN dotnet restore", StringComparison.Ordinal) && l.Contains("-p:TorchBackend=${TORCH_BACKEND}"));
        Assert.Contains(build, l => l.StartsWith("RUN dotnet publish", StringComparison.Ordinal) && l.Contains("-p:TorchBackend=${TORCH_BACKEND}"));
    }

    [Fact]
    public void Every_file_it_copies_exists_and_every_src_project_is_in_the_restore_layer()
    {
        var copies = Lines.Where(l => l.StartsWith("COPY ", StringComparison.Ordinal) && !l.Contains("--from=")).ToList();
        var sources = copies.SelectMany(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1..^1]).ToList();

        Assert.All(sources, s => Assert.True(File.Exists(RepoFiles.PathOf(s)) || Directory.Exists(RepoFiles.PathOf(s)),
            $"COPY {s}: no such file or folder in the build context (the repository root)"));
        var projects = Directory.GetFiles(RepoFiles.PathOf("src"), "*.csproj", SearchOption.AllDirectories)
            .Select(p => Path.GetRelativePath(RepoFiles.Root, p).Replace('\\', '/'));
        Assert.All(projects, p => Assert.Contains(p, sources));
    }

    [Fact]
    public void The_dockerignore_keeps_build_outputs_and_git_out_of_the_context()
    {
        var ignored = RepoFiles.Read(".dockerignore").Split('\n').Select(l => l.Trim()).ToHashSet();

        Assert.Contains("**/bin/", ignored);
        Assert.Contains("**/obj/", ignored);
        Assert.Contains(".git", ignored);
        Assert.DoesNotContain("src/", ignored);
    }

    /// <summary>Instructions with line continuations joined, comments and blank lines dropped.</summary>
    private static string[] Instructions(string dockerfile) => Continuation().Replace(dockerfile, " ")
        .Split('\n')
        .Select(l => Spaces().Replace(l.Trim(), " "))
        .Where(l => l.Length > 0 && !l.StartsWith('#'))
        .ToArray();

    private static List<List<string>> Stages()
    {
        var stages = new List<List<string>>();
        foreach (string line in Lines)
        {
            if (line.StartsWith("FROM ", StringComparison.Ordinal))
            {
                stages.Add([]);
            }

            stages.LastOrDefault()?.Add(line);
        }

        return stages;
    }

    [GeneratedRegex(@"\\\r?\n")]
    private static partial Regex Continuation();

    [GeneratedRegex(@"\s+")]
    private static partial Regex Spaces();
}
