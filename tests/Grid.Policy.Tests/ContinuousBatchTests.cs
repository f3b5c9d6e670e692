using Grid.Policy.Generation;
using Generator = Grid.Policy.Generation.Generator;

namespace Grid.Policy.Tests;

/// <summary>Rows that join a batch mid-decode compute exactly what they would alone.</summary>
public sealed class ContinuousBatchTests
{
    private static GenerationRequest[] Group(int size, string question, int imageSeed, ulong seed) =>
        Enumerable.Range(0, size).Select(g => TestPolicies.Request(question, imageSeed, seed + (ulong)g)).ToArray();

    [Fact]
    public void Groups_that_join_mid_decode_get_the_completions_they_get_alone()
    {
        using var policy = TestPolicies.Tiny().EndingEarly(boost: 2f);
        var settings = new GenerationSettings(MaxNewTokens: 24, Temperature: 1.2, TopP: 0.95);
        // Prompts of other lengths than the first group's, joining at different steps.
        var first = Group(4, "Angles 40 and 30. Find x.", imageSeed: 1, seed: 10);
        var second = Group(3, "Find x.", imageSeed: 2, seed: 20);
        var third = Group(5, "How many circles?", imageSeed: 3, seed: 30);

        var results = new Dictionary<object, GenerationResult[]>
        {
            [first] = new GenerationResult[first.Length],
            [second] = new GenerationResult[second.Length],
            [third] = new GenerationResult[third.Length],
        };
        int steps = 0;
        using (var batch = new ContinuousBatch(policy, settings, maxRows: 64))
        {
            batch.Admit(first, first);
            Collect(batch.Step());
            Collect(batch.Step());
            Assert.True(batch.CanAdmit(second));
            batch.Admit(second, second);
            for (int i = 0; i < 5; i++)
            {
                Collect(batch.Step());
            }

            Assert.True(batch.CanAdmit(third));
            batch.Admit(third, third);
            while (!batch.IsEmpty)
            {
                Collect(batch.Step());
            }
        }

        Assert.True(steps > 7);
        foreach (var group in new[] { first, second, third })
        {
            var alone = Generator.Generate(policy, group, settings);
            for (int i = 0; i < group.Length; i++)
            {
                Assert.Equal(alone[i].Tokens, results[group][i].Tokens);
                Assert.Equal(alone[i].EndedWithEos, results[group][i].EndedWithEos);
                Assert.Equal(alone[i].LogProbs.Length, results[group][i].LogProbs.Length);
                for (int t = 0; t < alone[i].LogProbs.Length; t++)
                {
                    Assert.Equal(alone[i].LogProbs[t], results[group][i].LogProbs[t], 1e-4f);
                }
            }
        }

        // Completions ended at different steps, so rows were dropped and slots trimmed along the way.
        Assert.True(results.Values.SelectMany(r => r).Select(r => r.Tokens.Length).Distinct().Count() > 2);

        void Collect(IReadOnlyList<FinishedRequest> finished)
        {
            steps++;
            foreach (var done in finished)
            {
                Assert.Null(results[done.Owner][done.Index]);
                results[done.Owner][done.Index] = done.Result;
            }
        }
    }

    [Fact]
    public void A_group_that_does_not_fit_is_told_to_wait_and_refused_if_admitted_anyway()
    {
        using var policy = TestPolicies.Tiny();
        var settings = new GenerationSettings(MaxNewTokens: 8);
        using var batch = new ContinuousBatch(policy, settings, maxRows: 4);
        batch.Admit(Group(3, "Find x.", 1, 1), "first");

        var tooMany = Group(2, "Find x.", 2, 2);
        Assert.False(batch.CanAdmit(tooMany));
        var error = Assert.Throws<InvalidOperationException>(() => batch.Admit(tooMany, "second"));
        Assert.Contains("wait until it drains", error.Message);

        // A prompt longer than what the batch holds so far cannot be aligned to its end yet.
        var longPrompt = Group(1, new string('?', 40) + "Find x.", 3, 3);
        Assert.False(batch.CanAdmit(longPrompt));
    }
}
