using System.Text.Json;
using System.Xml.Linq;

namespace Grid.Deployment.Tests;

/// <summary>
/// The CUDA build switch: <c>-p:TorchBackend=cuda</c> swaps TorchSharp-cpu for TorchSharp-cuda-linux in every project
/// that needs libtorch. This machine's package feed does not serve TorchSharp-cuda-linux, so the CUDA flavour cannot be
/// restored or built here: these tests evaluate the projects with MSBuild (<c>dotnet msbuild -getItem</c>, evaluation
/// only, no restore) and check which TorchSharp package each one would restore.
/// </summary>
public sealed class TorchBackendSwitchTests
{
    private static readonly string[] Flavours = ["TorchSharp-cpu", "TorchSharp-cuda-linux"];

    /// <summary>The projects that reference libtorch directly; the rest get it through them.</summary>
    private static readonly string[] TorchProjects = ["Grid.Learning", "Grid.Policy"];

    [Fact]
    public void Without_the_switch_every_torch_project_references_exactly_the_cpu_package()
    {
        AssertFlavour(backend: null, expected: "TorchSharp-cpu");
    }

    [Fact]
    public void With_TorchBackend_cuda_every_torch_project_references_exactly_the_cuda_package()
    {
        AssertFlavour(backend: "cuda", expected: "TorchSharp-cuda-linux");
    }

    [Fact]
    public void Both_flavours_are_pinned_centrally_at_the_same_version()
    {
        var versions = XDocument.Load(Path.Combine(RepoRoot, "Directory.Packages.props")).Descendants("PackageVersion")
            .ToDictionary(e => (string)e.Attribute("Include")!, e => (string)e.Attribute("Version")!);

        Assert.Equal("0.107.0", versions["TorchSharp-cpu"]);
        Assert.Equal(versions["TorchSharp-cpu"], versions["TorchSharp-cuda-linux"]);
    }

    [Fact]
    public void An_unknown_backend_stops_the_build_with_the_values_it_takes()
    {
        var (exit, output) = Msbuild(Path.Combine(RepoRoot, "src", "Grid.Policy", "Grid.Policy.csproj"),
            "-p:TorchBackend=rocm", "-t:GridCheckTorchBackend");

        Assert.NotEqual(0, exit);
        Assert.Contains("TorchBackend is 'rocm'; use -p:TorchBackend=cpu (the default) or -p:TorchBackend=cuda", output);
    }

    private static void AssertFlavour(string? backend, string expected)
    {
        var referencing = new List<string>();
        foreach (string project in Directory.GetFiles(Path.Combine(RepoRoot, "src"), "*.csproj", SearchOption.AllDirectories))
        {
            string name = Path.GetFileNameWithoutExtension(project);
            var packages = PackageReferences(project, backend);
            var torch = packages.Intersect(Flavours).ToArray();
            if (torch.Length > 0)
            {
                referencing.Add(name);
                Assert.True(torch.SequenceEqual([expected]),
                    $"{name} with TorchBackend={backend ?? "(unset)"} references [{string.Join(", ", torch)}]; expected exactly {expected}");
            }
        }

        Assert.Equal(TorchProjects, referencing.Order());
    }

    private static string[] PackageReferences(string project, string? backend)
    {
        string[] arguments = backend is null ? ["-getItem:PackageReference"] : ["-getItem:PackageReference", $"-p:TorchBackend={backend}"];
        var (exit, output) = Msbuild(project, arguments);
        Assert.True(exit == 0, $"dotnet msbuild {project} {string.Join(' ', arguments)} exited {exit}:\n{output}");
        using var json = JsonDocument.Parse(output);
        if (!json.RootElement.GetProperty("Items").TryGetProperty("PackageReference", out var items))
        {
            return [];
        }

        return items.EnumerateArray().Select(i => i.GetProperty("Identity").GetString()!).ToArray();
    }

    private static (int Exit, string Output) Msbuild(string project, params string[] arguments)
    {
        var (exit, output, errors) = RepoFiles.Run("dotnet", ["msbuild", project, "-nologo", .. arguments], TimeSpan.FromMinutes(2));
        return (exit, output + errors);
    }

    private static string RepoRoot => RepoFiles.Root;
}
