namespace Grid.Policy.Tests.Qwen;

/// <summary>
/// Where the tiny Hugging Face checkpoints and their reference outputs live: tests/Grid.Policy.Tests/TestData/Qwen in
/// the repository (found by walking up from the test binary to Grid.sln), made by tools/qwen_vl.
/// </summary>
internal static class QwenTestData
{
    public static string Root { get; } = Locate();

    /// <summary>A file or folder under the test data root, e.g. "qwen2_vl_tiny" or "reference/qwen2_vl.json".</summary>
    public static string PathOf(string relative) => Path.Combine(Root, relative);

    private static string Locate()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Grid.sln")))
            {
                return Path.Combine(dir.FullName, "tests", "Grid.Policy.Tests", "TestData", "Qwen");
            }
        }

        throw new DirectoryNotFoundException($"No Grid.sln above {AppContext.BaseDirectory}: the Qwen test data is found from the repository root.");
    }
}
