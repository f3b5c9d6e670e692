namespace Grid.Policy.Tests.Qwen;

/// <summary>Theory data: (family, case name) of every reference case, or of those with an image.</summary>
public static class QwenReferenceCases
{
    public static TheoryData<string, string> All => Of(_ => true);

    public static TheoryData<string, string> WithImage => Of(c => c.Grid is not null);

    public static TheoryData<string> Families => [QwenReference.Qwen2VL, QwenReference.Qwen25VL];

    private static TheoryData<string, string> Of(Func<ReferenceCase, bool> keep)
    {
        var data = new TheoryData<string, string>();
        foreach (string family in new[] { QwenReference.Qwen2VL, QwenReference.Qwen25VL })
        {
            foreach (var c in QwenReference.CasesOf(family).Where(keep))
            {
                data.Add(family, c.Name);
            }
        }

        return data;
    }
}
