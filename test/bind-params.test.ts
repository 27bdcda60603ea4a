import { describe, expect, it } from 'vitest';
import { bindParams } from '../src/match/match.js';
import { defaultParameters } from '../src/rules/parameters.js';

describe('bindParams', () => {
  it('binds exactly the parameters a statement references, with their types', () => {
    const p = bindParams('SELECT $asOf - $illnessWindowDays, list_contains($passengerCarTypes, x), $asOf', defaultParameters(), '2020-06-30');
    expect(Object.keys(p.values).sort()).toEqual(['asOf', 'illnessWindowDays', 'passengerCarTypes']);
    expect(Object.keys(p.types).sort()).toEqual(Object.keys(p.values).sort());
    expect(bindParams('SELECT 1', defaultParameters(), '2020-06-30')).toEqual({ values: {}, types: {} });
  });

  it('refuses a parameter that is not one of the catalogue\'s', () => {
    expect(() => bindParams('SELECT $nope', defaultParameters(), '2020-06-30')).toThrow(/\$nope/);
  });
});
