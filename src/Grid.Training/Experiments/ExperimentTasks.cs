using Grid.Core.Settings;
using Grid.Tasks;

namespace Grid.Training.Experiments;

/// <summary>The tasks a study trains on, one after another; every trained policy is evaluated on all of them.</summary>
public static class ExperimentTasks
{
    public static IReadOnlyList<string> Defaults { get; } = ["counting", "geometry"];

    /// <summary>The tasks of a comma-separated list, each once, in the order given; an unknown name is refused.</summary>
    public static IReadOnlyList<string> ParseList(string text)
    {
        var names = (text ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        string allowed = $"a comma-separated list of {InvalidSettingException.OneOf(TaskCatalog.Names)}, e.g. --tasks counting,geometry";
        if (names.Length == 0)
        {
            throw new InvalidSettingException("tasks", text, allowed);
        }

        foreach (string name in names)
        {
            if (!TaskCatalog.Names.Contains(name))
            {
                throw new InvalidSettingException("tasks", name, allowed);
            }
        }

        return names.Distinct().ToArray();
    }
}
